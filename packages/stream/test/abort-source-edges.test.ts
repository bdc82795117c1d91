import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { ManualClock, abortListeners, deferred, longLivedSignal, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, type AbortSource, type ServerRequest, type StreamCall } from '../src/index.js';
import { readU32, startServer, transport, u32 } from './harness.js';

/*
 * Edges of `CallOptions.abortSource` and of the listeners a plain request's `onAbort` keeps on
 * its connection: a stream opened with a source that aborted already beside a long-lived signal
 * of the caller's own, and one function hooked by two plain requests of one connection. Real
 * loopback servers throughout.
 */

const cleanup = cleanups();

/** A source that aborted already, as a handler's request or `ctx` whose client cancelled it. */
const abortedSource = (): AbortSource => ({
  aborted: true,
  onAbort(listener) {
    listener(new Error('the call it was made for ended'));
    return () => {};
  },
});

/** A server of `table` (no close wait), and a client without keepalive: both closed after the test. */
async function served(table: Parameters<typeof startServer>[0]) {
  const s = await startServer(table, { closeWaitMs: 0, logger: silentLogger });
  cleanup.push(() => s.server.close());
  const client = await s.connect({ keepaliveMs: 0, logger: silentLogger });
  cleanup.push(() => client.destroy());
  return client;
}

const ended = (s: StreamCall): Promise<unknown> => s.result.then(() => 'answered', (e: unknown) => e);

describe('a stream opened with a source aborted already and a signal of its own', () => {
  it('fails Cancelled and leaves no listener on the signal: ClientStream, ConnPool, FailoverPool', async () => {
    let ran = 0;
    const s = await startServer({ feed: () => void ran++ }, { logger: silentLogger });
    cleanup.push(() => s.server.close());
    const c = await s.connect({ logger: silentLogger, keepaliveMs: 0 });
    cleanup.push(() => c.destroy());
    const p = new ConnPool({ transport, address: s.address, logger: silentLogger });
    cleanup.push(() => p.destroy());
    const f = new FailoverPool({ transport, servers: [s.address], logger: silentLogger, pool: { logger: silentLogger } });
    cleanup.push(() => f.close());
    // The caller's shutdown signal, given to every call: what a settled stream leaves on it is a leak.
    const shutdown = longLivedSignal();
    for (const [name, carrier] of [['ClientStream', c], ['ConnPool', p], ['FailoverPool', f]] as const) {
      const stream = carrier.openStream('feed', undefined, { abortSource: abortedSource(), signal: shutdown });
      const err = await ended(stream);
      expect(RpcError.is(err, ErrorCode.Cancelled), name).toBe(true);
      expect(stream.isDone, name).toBe(true);
      expect(abortListeners(shutdown), `listeners left on the signal by ${name}'s stream`).toBe(0);
    }
    expect(ran).toBe(0);
  });
});

describe("one function hooked by two plain requests of one connection (ServerRequest.onAbort)", () => {
  it('each request keeps its own hook: the first one unhooked, the second is still told when the connection goes', async () => {
    const told: unknown[] = [];
    // One function for every request, as a library's module-level listener would be.
    const listener = (reason: unknown): void => void told.push(reason);
    const second = deferred<ServerRequest>();
    const firstAnswered = deferred<void>();
    const client = await served({
      // Hooks, then answers and unhooks (a handler's `finally`).
      quick: (req) => {
        const off = req.onAbort(listener);
        off();
        firstAnswered.resolve();
        return new Uint8Array();
      },
      // Hooks and waits: told when its connection goes.
      hold: (req) => {
        req.onAbort(listener);
        second.resolve(req);
        return new Promise(() => {});
      },
    });
    // Both plain (no head): their abort is their connection's.
    void client.call('hold').catch(() => {});
    const req = await second.promise;
    expect(req.deadline).toBeUndefined();
    await client.call('quick');
    await firstAnswered.promise;
    client.destroy();
    await waitFor(() => req.signal.aborted, { what: "the held request's signal" });
    // Its signal fired, and in the same turn (one LazyAbort fires both) its onAbort listener is told, once.
    expect(told).toHaveLength(1);
  });
});

describe('an abort source that tells while it is hooked, though it said it had not aborted', () => {
  it("cancels the call once its carrier placed it: the window's counts stay right, a stream too", async () => {
    // Breaks the contract (`aborted` false, yet told at once), as a library's own source might.
    const eager = (): AbortSource => ({
      aborted: false,
      onAbort(listener) {
        listener(new Error('gone already'));
        return () => {};
      },
    });
    const s = await startServer({ ok: () => new Uint8Array(), hang: () => new Promise(() => {}), feed: () => new Promise(() => {}) }, { closeWaitMs: 0, logger: silentLogger });
    cleanup.push(() => s.server.close());
    const client = await s.connect({ window: 1, logger: silentLogger });
    cleanup.push(() => client.destroy());
    await client.ping();
    // One on the wire (the window's one slot), one that would wait in the line behind it.
    const held = client.call('hang', undefined, { timeoutMs: 60_000 }).catch(() => {});
    for (const action of ['ok', 'ok']) {
      await expect(client.call(action, undefined, { abortSource: eager() })).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    }
    const st = client.openStream('feed', undefined, { abortSource: eager() });
    await expect(st.result).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    expect({ inFlight: client.inFlight, queued: client.queued, streams: client.openStreams }).toEqual({ inFlight: 1, queued: 0, streams: 0 });
    void held;
    // The line and the window still work: a call after them is answered.
    const other = await s.connect({ logger: silentLogger });
    cleanup.push(() => other.destroy());
    await other.ping();
    const first = other.call('ok', undefined, { abortSource: eager() }).then(() => 'answered', (e: RpcError) => e.code);
    expect(await first).toBe(ErrorCode.Cancelled);
    expect(await other.call('ok')).toBeDefined();
    expect({ inFlight: other.inFlight, queued: other.queued }).toEqual({ inFlight: 0, queued: 0 });
  });
});

describe("a plain request's listener unhooked by another while its connection's abort tells them", () => {
  it('is not told, as an EventTarget skips a listener removed during its dispatch', async () => {
    const told: string[] = [];
    const held: ServerRequest[] = [];
    const both = deferred<void>();
    let offSecond: () => void = () => {};
    const client = await served({
      hold: (req) => {
        const i = held.push(req);
        // The first one's listener unhooks the second's (a handler giving up on a sibling's wait).
        if (i === 1) req.onAbort(() => (told.push('first'), offSecond()));
        else (offSecond = req.onAbort(() => told.push('second'))), both.resolve();
        return new Promise(() => {});
      },
    });
    void client.call('hold').catch(() => {});
    void client.call('hold').catch(() => {});
    await both.promise;
    expect(held.map((r) => r.deadline)).toEqual([undefined, undefined]);
    client.destroy();
    await waitFor(() => held[1]!.signal.aborted, { what: 'the connection to go' });
    expect(told).toEqual(['first']);
  });
});

describe("a stream ended by the client's own deadline (not cancelled by its caller)", () => {
  it('is read to the items that arrived first, then fails Timeout, as one the server failed at its deadline is', async () => {
    // The server's clock stands still: its own deadline never comes (a hung or careless server),
    // so the client's deadline ends the stream.
    const clock = new ManualClock();
    const wrote = deferred<void>();
    const s = await startServer(
      {
        feed: async (req) => {
          for (let i = 1; i <= 3; i++) await req.stream!.write(u32(i));
          wrote.resolve();
          return new Promise(() => {}); // never answers
        },
      },
      { clock, closeWaitMs: 0, logger: silentLogger },
    );
    cleanup.push(() => s.server.close());
    const client = await s.connect({ tickMs: 20, keepaliveMs: 0, logger: silentLogger });
    cleanup.push(() => client.destroy());
    const stream = client.openStream('feed', undefined, { timeoutMs: 100 });
    await wrote.promise;
    // All three arrived and wait unread (a 4-byte item costs more than 8 bytes of credit).
    await waitFor(() => stream.buffered >= 3 * 8, { what: 'the items to arrive' });
    await waitFor(() => stream.isDone, { what: "the client's deadline" });
    const items: number[] = [];
    let err: unknown;
    try {
      for await (const item of stream) items.push(readU32(item.msg));
    } catch (e) {
      err = e;
    }
    expect(RpcError.is(err, ErrorCode.Timeout)).toBe(true);
    // The README's words: a stream that fails otherwise than by its caller's cancel is read to what arrived first.
    expect(items).toEqual([1, 2, 3]);
  });
});
