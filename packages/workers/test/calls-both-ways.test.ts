import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { createClient, createServiceDispatch, implement, withBlob } from '@skein/api';
import type { Dispatch, RpcServerOptions } from '@skein/stream';
import { memoryLogger, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { WorkerPool } from '../src/index.js';
import backOptions, { Back, Peer, Refused } from './fixtures/calls-back.mjs';
import { outcome, serve, startPool } from './harness.js';

// A worker handler's `ctx.caller`: calls to the services the connected client serves, over its
// connection, through the pool; against the same services in process.

const codec = msgpackCodec;
const BACK_MODULE = new URL('./fixtures/calls-back.mjs', import.meta.url);

const cleanup = cleanups();

async function pool(opts: Partial<Parameters<typeof startPool>[0]> = {}): Promise<WorkerPool> {
  const p = await startPool({ module: BACK_MODULE, workers: 1, ...opts });
  cleanup.push(() => p.destroy());
  return p;
}

const inProcess = (): Dispatch => createServiceDispatch({ ...backOptions, codec });

/** The client's side: `Peer`, which the server's handlers call back. `hang` answers only when released. */
function peer() {
  const hung: (() => void)[] = [];
  let greeted = 0;
  const dispatch = createServiceDispatch({
    codec,
    logger: silentLogger,
    services: [
      implement(Peer, {
        greet: (name) => (greeted++, `hello ${name}`),
        fail: (kind) => {
          if (kind === 'rpc') throw new RpcError(ErrorCode.PermissionDenied, 'not yours');
          if (kind === 'overloaded') throw new RpcError(ErrorCode.Overloaded, 'peer busy');
          if (kind === 'declared') throw new Refused();
          throw new Error('secret');
        },
        hang: (tag) => new Promise<string>((resolve) => hung.push(() => resolve(tag))),
        count: async function* (to) {
          for (let i = 0; i < to; i++) yield i;
        },
        // Sends the blob back reversed, with the sum of its bytes.
        mirror: ({ value, blob }) => withBlob({ tag: value.tag, sum: blob.reduce((a, b) => a + b, 0) }, blob.slice().reverse()),
      }),
    ],
  });
  return { dispatch, hung, greeted: () => greeted, release: () => hung.splice(0).forEach((r) => r()) };
}

/** A server with `dispatch`, and a client that serves `Peer` back unless `serves` is false. */
async function served(dispatch: Dispatch, o: { serves?: boolean; serveWindow?: number; window?: number; server?: Partial<RpcServerOptions> } = {}) {
  const p = peer();
  const clientOpts = { ...(o.window ? { window: o.window } : {}), ...(o.serves === false ? {} : { serve: p.dispatch, ...(o.serveWindow ? { serveWindow: o.serveWindow } : {}) }) };
  const s = await serve(dispatch, o.server ?? {}, clientOpts);
  cleanup.push(() => s.close());
  cleanup.push(() => p.release());
  // Calls both ways are agreed in the hello: a round trip first.
  await s.stream.ping();
  const [conn] = s.server.openConnections();
  return { ...s, peer: p, back: createClient(Back, s.stream, { codec }), reverse: conn!.caller as unknown as { inFlight: number; queued: number } | undefined };
}

/** Resolves with the next line the fixture handlers report that starts with `prefix`. */
function nextEvent(prefix: string): Promise<string> {
  const events = new BroadcastChannel('skein-workers-test-events');
  cleanup.push(() => events.close());
  return new Promise((resolve) => {
    events.onmessage = (e: MessageEvent) => {
      const line = e.data as string;
      if (line.startsWith(prefix)) resolve(line.slice(prefix.length));
    };
  });
}

/** What the pool keeps for calls both ways (private: read to check that nothing stays behind). */
const relayOf = (p: WorkerPool) => (p as unknown as { reverse: { callers: Map<number, unknown>; slots: Map<unknown, unknown> } }).reverse;

/** Error messages name the client's address; two runs differ only in its port. */
const portless = (v: unknown): unknown => JSON.parse(JSON.stringify(v).replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT'));

describe("a worker handler's ctx.caller (calls both ways)", () => {
  it('calls the service the client serves and returns the combined answer, as in process', async () => {
    const run = async (dispatch: Dispatch) => {
      const { back, peer } = await served(dispatch);
      const got = await Promise.all(Array.from({ length: 20 }, (_, n) => back.combine({ name: `c${n}`, n })));
      return { got, greeted: peer.greeted(), has: await back.hasCaller() };
    };
    const expected = { got: Array.from({ length: 20 }, (_, n) => `hello c${n} #${n}`), greeted: 20, has: true };
    expect(await run(inProcess())).toEqual(expected);
    expect(await run(await pool())).toEqual(expected);
  });

  it('is undefined when the connection did not offer calls both ways, as in process', async () => {
    for (const dispatch of [inProcess(), await pool()]) {
      const { back, reverse } = await served(dispatch, { serves: false });
      expect(reverse).toBeUndefined();
      expect(await back.hasCaller()).toBe(false);
    }
  });

  it("brings the client service's errors back as in process: an RpcError's code, message and retry, a declared error, a hidden one", async () => {
    const run = async (dispatch: Dispatch) => {
      const { back } = await served(dispatch);
      return { rpc: await back.failing('rpc'), overloaded: await back.failing('overloaded'), declared: await back.failing('declared'), hidden: await back.failing('internal'), stream: await back.streamBack() };
    };
    const expected = await run(inProcess());
    expect(expected).toMatchObject({
      rpc: { code: 'PermissionDenied', retry: 'never', message: expect.stringContaining('not yours') },
      // Not its code's own policy (a bare Overloaded is a refusal, unrun): a handler's may have run.
      // Its message stays with the peer, which does not expose internal errors: the action and code.
      overloaded: { code: 'Overloaded', retry: 'idempotent', message: expect.stringMatching(/: rpc_overloaded$/) },
      declared: { declared: 'Refused' },
      hidden: { code: 'Internal' },
      // The connection's caller opens no streams, in process or in a worker.
      stream: { code: 'InvalidArgument', message: expect.stringContaining('Peer.count: a streaming method needs a carrier that opens streams') },
    });
    expect(await run(await pool())).toEqual(expected);
  });

  it('carries blobs both ways, each call with the bytes it was made with, as in process', async () => {
    const n = 100_000;
    const run = async (dispatch: Dispatch) => (await served(dispatch)).back.blobs(n);
    const expected = await run(inProcess());
    expect(expected).toEqual([
      { tag: 'first', sum: n, length: n, last: 1 },
      { tag: 'second', sum: 2 * n, length: n, last: 2 },
    ]);
    expect(await run(await pool())).toEqual(expected);
  });

  it("times out with the call's own timeoutMs, with the same error as in process", async () => {
    // The client is told the deadline too (docs/protocol.md, "Calls both ways"): the call ends by
    // the server's own timeout or by the client's Timeout answer at that deadline, whichever comes
    // first, in process as in a worker; both Timeout, "may have run".
    const eitherTimeout = /^Peer\.hang: (no answer from 127\.0\.0\.1:PORT to a reverse call within 200 ms|deadline passed)$/;
    const run = async (dispatch: Dispatch) => {
      const { back } = await served(dispatch);
      const r = portless(await back.timed({ timeoutMs: 200, withCtx: false }, { timeoutMs: 60_000 })) as { message: string };
      return { ...r, message: eitherTimeout.test(r.message) ? 'one of the two' : r.message };
    };
    const expected = await run(inProcess());
    expect(expected).toEqual({ code: 'Timeout', retry: 'idempotent', message: 'one of the two' });
    expect(await run(await pool())).toEqual(expected);
  });

  it('a call whose signal times out (AbortSignal.timeout) fails Timeout naming its signal, as in process', async () => {
    // The connection's caller would wait a minute: only the signal ends the call sooner.
    const run = async (dispatch: Dispatch) => (await served(dispatch, { server: { reverseCalls: { timeoutMs: 60_000 } } })).back.signalTimed(20);
    const expected = await run(inProcess());
    expect(expected).toEqual({ code: 'Timeout', retry: 'never', message: 'Peer.hang: call timed out (its signal: TimeoutError: The operation was aborted due to timeout)' });
    expect(await run(await pool())).toEqual(expected);
  });

  it('a call made with { ctx } ends with the deadline of the call it was made for', async () => {
    // The connection's caller would wait a minute: only what { ctx } carried ends the call sooner.
    const server = { reverseCalls: { timeoutMs: 60_000 } };
    for (const dispatch of [inProcess(), await pool()]) {
      const { back } = await served(dispatch, { server });
      const heard = nextEvent('timed ');
      // The client's own timeout, or the handler's answer carrying the reverse call's Timeout when
      // that came back first: the serving side answers a reverse call Timeout at its deadline too,
      // which is the outer call's (what { ctx } carried), so the two race.
      const outer = (await outcome(back.timed({ withCtx: true }, { timeoutMs: 300 }))) as { code?: string; ok?: { code?: string } };
      expect([outer.code, outer.ok?.code]).toContain('Timeout');
      // Its own timeout (the time that was left) or the deadline of the call it was made for,
      // whichever came first: Timeout either way, never Cancelled (nobody cancelled anything).
      const r = JSON.parse(await within(heard, 10_000, 'the reverse call')) as { code: string };
      expect(r.code).toBe('Timeout');
    }
  });

  it("is cancelled by its signal: the pool aborts the connection's call, which leaves the caller's line", async () => {
    for (const dispatch of [inProcess(), await pool()]) {
      // The client runs one call from the server at once: `a` holds it, `b` waits in the server's line.
      const { back, reverse, peer } = await served(dispatch, { serveWindow: 1 });
      const heardB = nextEvent('b ');
      const ac = new AbortController();
      const call = outcome(back.cancelPair(undefined, { signal: ac.signal }));
      await waitFor(() => reverse!.inFlight === 1 && reverse!.queued === 1);
      ac.abort();
      expect(await call).toMatchObject({ code: 'Cancelled' });
      expect(JSON.parse(await heardB)).toEqual({ code: 'Cancelled', retry: 'never', message: 'Peer.hang: call cancelled: its signal, or the call it was made for, aborted' });
      expect(reverse!.queued).toBe(0);
      const heardA = nextEvent('a ');
      await waitFor(() => peer.hung.length === 1);
      peer.release();
      expect(JSON.parse(await heardA)).toEqual({ ok: 'a' });
    }
  });

  it('a call whose signal and { ctx } abort in one turn reads the first of the two, as in process', async () => {
    const run = async (dispatch: Dispatch) => {
      const { back, peer } = await served(dispatch);
      const heard = nextEvent('both ');
      const ac = new AbortController();
      const call = outcome(back.bothAbort(undefined, { signal: ac.signal }));
      await waitFor(() => peer.hung.length === 1);
      ac.abort();
      expect(await call).toMatchObject({ code: 'Cancelled' });
      return JSON.parse(await within(heard, 10_000, 'the call made with both')) as unknown;
    };
    const expected = await run(inProcess());
    expect(expected).toEqual({ code: 'Cancelled', cause: 'the handler gave up first' });
    expect(await run(await pool())).toEqual(expected);
  });

  it('a call overtaken by many later ones while it is out is still cancelled by its signal', async () => {
    // Both sides keep their calls by id in a ring that a long-lived call is moved out of when
    // later ids come round to its slot: its cancel must still find it there, in the worker and in the pool.
    for (const dispatch of [inProcess(), await pool()]) {
      const { back, peer } = await served(dispatch);
      const overtaken = nextEvent('overtaken');
      const heard = nextEvent('slow ');
      const ac = new AbortController();
      const call = outcome(back.overtaken(200, { signal: ac.signal }));
      await overtaken;
      expect(peer.greeted()).toBe(200);
      ac.abort();
      expect(await call).toMatchObject({ code: 'Cancelled' });
      expect(JSON.parse(await heard)).toEqual({ code: 'Cancelled', retry: 'never', message: 'Peer.hang: call cancelled: its signal, or the call it was made for, aborted' });
    }
  });

  it('after its connection closed, fails as the closed connection\'s caller does', async () => {
    const run = async (dispatch: Dispatch) => {
      const { back, stream } = await served(dispatch);
      const heard = nextEvent('late ');
      void outcome(back.afterClose());
      // Read by the server once the ping that follows it is answered.
      await stream.ping();
      stream.destroy();
      return portless(JSON.parse(await heard));
    };
    const expected = await run(inProcess());
    expect(expected).toEqual({ code: 'IO', retry: 'safe', message: 'Peer.greet: connection from 127.0.0.1:PORT is closed: reverse call not sent' });
    const p = await pool();
    expect(await run(p)).toEqual(expected);
    // The pool keeps no closed connection.
    expect(relayOf(p).callers.size).toBe(0);
  });

  it('a call out when its connection closes fails as in process (IO, may have run), and nothing stays behind: no call kept, no place held', async () => {
    const run = async (dispatch: Dispatch) => {
      const { back, stream, peer } = await served(dispatch);
      const heard = nextEvent('timed ');
      void outcome(back.timed({ withCtx: false }));
      await waitFor(() => peer.hung.length === 1);
      stream.destroy();
      return portless(JSON.parse(await heard));
    };
    const expected = (await run(inProcess())) as { code: string; retry: string };
    expect(expected).toMatchObject({ code: 'IO', retry: 'idempotent' });
    const p = await pool();
    expect(await run(p)).toEqual(expected);
    const relay = relayOf(p) as unknown as { callers: Map<number, unknown>; slots: Map<unknown, { running: Map<number, unknown> }> };
    expect(relay.callers.size).toBe(0);
    expect([...relay.slots.values()].map((s) => s.running.size)).toEqual([0]);
    await waitFor(() => p.stats().inFlight === 0);
  });

  it('a call out on its own call\'s behalf ({ ctx }) when their connection closes fails as in process: IO, may have run (not Cancelled: nobody gave up on it)', async () => {
    const run = async (dispatch: Dispatch) => {
      const { back, stream, peer } = await served(dispatch);
      const heard = nextEvent('timed ');
      void outcome(back.timed({ timeoutMs: 60_000, withCtx: true }));
      await waitFor(() => peer.hung.length === 1);
      stream.destroy();
      return portless(JSON.parse(await heard));
    };
    const expected = await run(inProcess());
    expect(expected).toMatchObject({ code: 'IO', retry: 'idempotent', message: expect.stringMatching(/lost with the reverse call out: it may have run/) });
    expect(await run(await pool())).toEqual(expected);
  });

  it("is bounded by the connection's caller: past its window and line it refuses, as in process", async () => {
    const run = async (dispatch: Dispatch) => {
      // One call on the wire (the client's window), one waiting (the line): the third is refused.
      const { back, peer } = await served(dispatch, { serveWindow: 1, server: { reverseCalls: { maxQueued: 1 } } });
      const crowd = back.crowd(3);
      for (let i = 0; i < 2; i++) {
        await waitFor(() => peer.hung.length === 1);
        peer.release();
      }
      return portless(await crowd);
    };
    const expected = await run(inProcess());
    expect(expected).toEqual([{ ok: 'h0' }, { ok: 'h1' }, { code: 'Overloaded', retry: 'safe', message: 'Peer.hang: more than 1 reverse calls waiting on 127.0.0.1:PORT' }]);
    expect(await run(await pool())).toEqual(expected);
  });

  it('under load: many handlers on several workers each call back, all answered right, none twice', async () => {
    const p = await pool({ workers: 2, maxInFlightPerWorker: 64 });
    // The client's default window is the server's default maxInFlightPerConn (1024): every call can
    // be in flight and waiting for its call back, whose answers the server reads at the cap.
    const { back, peer } = await served(p, { server: { reverseCalls: { maxQueued: 10_000 } } });
    const N = 2000;
    // Names long enough that a worker's turn of calls back outgrows the first buffer it packs them in.
    const name = (n: number) => `c${n}-${'x'.repeat(n % 500)}`;
    const got = await Promise.all(Array.from({ length: N }, (_, n) => back.combine({ name: name(n), n })));
    expect(got).toEqual(Array.from({ length: N }, (_, n) => `hello ${name(n)} #${n}`));
    expect(peer.greeted()).toBe(N);
  });

  it('a worker that exits with reverse calls out: they are aborted on the connection, their answers dropped, nothing kept', async () => {
    const p = await pool({ workers: 1 });
    const { back, reverse, peer } = await served(p, { serveWindow: 1 });
    const call = outcome(back.exitWhileOut());
    await waitFor(() => reverse!.inFlight === 1 && reverse!.queued === 1);
    const exit = new BroadcastChannel('skein-workers-test-exit');
    cleanup.push(() => exit.close());
    exit.postMessage('exit');
    expect(await call).toMatchObject({ code: 'IO' });
    // The waiting call left the connection's line with its worker; the one on the wire keeps its slot until answered.
    await waitFor(() => reverse!.queued === 0);
    expect(relayOf(p).slots.size).toBe(0);
    peer.release();
    await waitFor(() => reverse!.inFlight === 0);
    // The replacement calls back as well.
    await waitFor(() => p.stats().workers === 1);
    expect(await back.combine({ name: 'again', n: 1 })).toBe('hello again #1');
  });

  it('a callback given to ctx.caller.send that throws is logged; the worker and the calls it holds go on', async () => {
    const logger = memoryLogger();
    const p = await pool({ workers: 1, logger });
    const { back, peer } = await served(p);
    // A call held by the same worker while the callback throws.
    const held = back.timed({ withCtx: false });
    await waitFor(() => peer.hung.length === 1);
    expect(await back.throwingCallback('cb')).toBe('hello cb');
    peer.release();
    expect(await held).toEqual({ ok: 'timed' });
    expect(p.stats().crashes).toBe(0);
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([
      'worker 0: a callback given to ctx.caller.send threw (Error: callback bug); the worker goes on',
    ]);
  });
});
