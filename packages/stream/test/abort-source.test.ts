import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { deferred, freePort, toldListeners, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, ConnPool, FailoverPool, createRouter, type Caller, type CallOptions, type ServerRequest, type StreamCall } from '../src/index.js';
import { CANCEL_ACTION } from '../src/wire/extension-frames.js';
import { readRequestHeader } from '../src/wire/protocol.js';
import { readU32, recordingTransport, startServer, transport, u32 } from './harness.js';
import { CountingSource } from './counting-source.js';
import { generation } from './restart-generation.js';
import { str } from './pool-harness.js';

/*
 * `CallOptions.abortSource`: what cancels a call as its `signal` does, with no AbortSignal made
 * for it (a ServerRequest, an api CallContext). Every carrier must honour it wherever it honours
 * `signal` (on the wire, in a window's line, waiting for a connection, a stream, a reverse call),
 * a handler passing its own request on must reach the next hop, and no call may stay hooked to a
 * long-lived source once it settled. Real loopback servers throughout; the source (CountingSource,
 * counting-source.ts) is the caller's input, counting what is hooked to it.
 */

const cleanup = cleanups();

/** An aborted source, as a caller whose own call ended hands it on. */
function abortedSource(): CountingSource {
  const s = new CountingSource();
  s.abort();
  return s;
}

/** How a promise ended: its error (an RpcError is what the tests check), or 'answered'. */
const ended = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'answered', (e: unknown) => e);

const isCancelled = (e: unknown): boolean => RpcError.is(e, ErrorCode.Cancelled);

/** `caller.send` as a promise. */
const callOn = (caller: Caller, action: string, opts: CallOptions): Promise<unknown> =>
  new Promise((resolve, reject) => caller.send(action, new Uint8Array(), opts, (err, reply) => (err ? reject(err) : resolve(reply))));

/** Requests a handler saw, each with what its abort told (the signal's reason, what `onAbort` heard). */
function holdingHandler() {
  const seen: ServerRequest[] = [];
  const told: unknown[] = [];
  const handler = (req: ServerRequest): Promise<never> => {
    seen.push(req);
    req.onAbort((reason) => told.push(reason));
    return new Promise(() => {});
  };
  return { seen, told, handler };
}

/** Streams numbers until its writes fail; the request it ran for. */
function feedingHandler() {
  const seen: ServerRequest[] = [];
  const handler = async (req: ServerRequest): Promise<void> => {
    seen.push(req);
    for (let i = 0; ; i++) await req.stream!.write(u32(i));
  };
  return { seen, handler };
}

/**
 * Reads `n` items of `stream`, then aborts `source`; the items read. Not a `for await` left by
 * `break`: that cancels the stream by itself.
 */
async function readThenAbort(stream: StreamCall, source: CountingSource, n: number): Promise<number> {
  const items = stream[Symbol.asyncIterator]();
  let read = 0;
  while (read < n && !(await items.next()).done) read++;
  source.abort();
  return read;
}

/** The request actions a recording transport saw written (headers only). */
const actionsOf = (writes: Uint8Array[]): number[] =>
  writes.filter((w) => w.length >= 32 && w[0] === 0x25 && w[1] === 0x4d && w[2] === 1).map((w) => readRequestHeader(w).action);

describe('a ClientStream call with an abortSource', () => {
  it('on the wire: fails Cancelled when the source aborts, and a cancel frame tells the handler (its signal fires, onAbort is told)', async () => {
    const hold = holdingHandler();
    const s = await startServer({ hold: hold.handler }, { closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const rec = recordingTransport();
    const c = await ClientStream.connect({ transport: rec.transport, address: s.address, keepaliveMs: 0 });
    cleanup.push(() => c.destroy());
    await c.ping();
    const source = new CountingSource();
    const call = ended(c.call('hold', undefined, { abortSource: source }));
    await waitFor(() => hold.seen.length === 1, { what: 'the handler' });
    const req = hold.seen[0]!;
    expect(req.aborted).toBe(false);
    expect(source.listening).toBe(1);
    source.abort();
    expect(isCancelled(await within(call, 5_000, 'the call'))).toBe(true);
    await waitFor(() => req.signal.aborted, { what: "the handler's signal" });
    expect(isCancelled(req.signal.reason)).toBe(true);
    expect(req.aborted).toBe(true);
    expect(hold.told).toHaveLength(1);
    expect(isCancelled(hold.told[0])).toBe(true);
    // The connection stays up: only the cancel frame told the handler.
    expect(c.state).toBe('open');
    expect(actionsOf(rec.writes)).toContain(CANCEL_ACTION);
    expect(source.listening).toBe(0);
  });

  it('queued behind a full window: fails Cancelled when the source aborts, and never runs', async () => {
    const gate = deferred<void>();
    let started = 0;
    const s = await startServer({ hold: async () => (started++, await gate.promise, u32(1)), ok: () => u32(2) });
    cleanup.push(() => s.server.close());
    const c = await s.connect({ window: 1, keepaliveMs: 0 });
    cleanup.push(() => c.destroy());
    await c.ping();
    const first = c.call('hold');
    const source = new CountingSource();
    const queued = ended(c.call('hold', undefined, { abortSource: source }));
    expect(c.queued).toBe(1);
    source.abort();
    expect(isCancelled(await within(queued, 5_000, 'the queued call'))).toBe(true);
    expect(c.queued).toBe(0);
    gate.resolve();
    await first;
    // A call after it is answered only once all before it were read: the cancelled one never went.
    expect((await c.call('ok')).msg).toEqual(u32(2));
    expect(started).toBe(1);
    expect(source.listening).toBe(0);
  });

  it('with a source aborted already: fails Cancelled at once, nothing written, the handler never runs; a stream too', async () => {
    let ran = 0;
    const s = await startServer({ hold: () => void ran++, feed: () => void ran++, ok: () => u32(2) });
    cleanup.push(() => s.server.close());
    const rec = recordingTransport();
    const c = await ClientStream.connect({ transport: rec.transport, address: s.address, keepaliveMs: 0 });
    cleanup.push(() => c.destroy());
    await c.ping();
    const before = rec.writes.length;
    const source = abortedSource();
    const err = await ended(c.call('hold', undefined, { abortSource: source }));
    expect(isCancelled(err)).toBe(true);
    const stream = c.openStream('feed', undefined, { abortSource: source });
    expect(isCancelled(await ended(stream.result))).toBe(true);
    expect(rec.writes.length).toBe(before);
    expect(c.inFlight + c.queued).toBe(0);
    expect((await c.call('ok')).msg).toEqual(u32(2));
    expect(ran).toBe(0);
    expect(source.hooked).toBe(0);
  });

  it('a stream opened with it: cancelled when the source aborts, and the handler hears it', async () => {
    const feed = feedingHandler();
    const s = await startServer({ feed: feed.handler }, { closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const c = await s.connect({ keepaliveMs: 0 });
    cleanup.push(() => c.destroy());
    const source = new CountingSource();
    const stream = c.openStream('feed', undefined, { abortSource: source });
    expect(await within(readThenAbort(stream, source, 3), 5_000, 'the stream')).toBe(3);
    expect(isCancelled(await ended(stream.result))).toBe(true);
    await waitFor(() => feed.seen[0]?.signal.aborted, { what: "the stream handler's signal" });
    expect(isCancelled(feed.seen[0]!.signal.reason)).toBe(true);
    expect(c.state).toBe('open');
    expect(c.openStreams).toBe(0);
    expect(source.listening).toBe(0);
  });
});

describe('a ConnPool call with an abortSource', () => {
  it('on the wire, and a stream: cancelled when the source aborts, the handlers told', async () => {
    const hold = holdingHandler();
    const feed = feedingHandler();
    const s = await startServer({ hold: hold.handler, feed: feed.handler }, { closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const p = new ConnPool({ transport, address: s.address, logger: silentLogger });
    cleanup.push(() => p.destroy());
    const source = new CountingSource();
    const call = ended(p.call('hold', undefined, { abortSource: source }));
    await waitFor(() => hold.seen.length === 1, { what: 'the handler' });
    source.abort();
    expect(isCancelled(await within(call, 5_000, 'the call'))).toBe(true);
    await waitFor(() => hold.seen[0]!.signal.aborted, { what: "the handler's signal" });
    expect(isCancelled(hold.told[0])).toBe(true);

    const streamSource = new CountingSource();
    const stream = p.openStream('feed', undefined, { abortSource: streamSource });
    expect(await within(readThenAbort(stream, streamSource, 2), 5_000, 'the stream')).toBe(2);
    expect(isCancelled(await ended(stream.result))).toBe(true);
    await waitFor(() => feed.seen[0]?.signal.aborted, { what: "the stream handler's signal" });
    expect(p.inFlight).toBe(0);
    expect(source.listening + streamSource.listening).toBe(0);
  });

  it('waiting for a connection (nobody listens yet): fails Cancelled when the source aborts, and never runs on the server that comes', async () => {
    const port = await freePort();
    const p = new ConnPool({ transport, address: `127.0.0.1:${port}`, backoff: { initialMs: 5, maxMs: 20 }, connectBudgetMs: 60_000, logger: silentLogger });
    cleanup.push(() => p.destroy());
    const source = new CountingSource();
    const call = ended(p.call('count', undefined, { abortSource: source }));
    const stream = p.openStream('count', undefined, { abortSource: source });
    await waitFor(() => p.state === 'backoff', { what: 'the first connect to fail' });
    expect(p.queued).toBe(2);
    expect(source.listening).toBeGreaterThanOrEqual(2);
    source.abort();
    expect(isCancelled(await within(call, 5_000, 'the waiting call'))).toBe(true);
    expect(isCancelled(await within(ended(stream.result), 5_000, 'the waiting stream'))).toBe(true);
    expect(p.queued).toBe(0);
    expect(source.listening).toBe(0);
    // The server comes: the pool connects, and only the call made after runs.
    let ran = 0;
    // closeWaitMs 0: its close, before the pool's, does not wait for the pool's connection to go.
    const s = await startServer({ count: () => u32(++ran) }, { closeWaitMs: 0 }, `127.0.0.1:${port}`);
    cleanup.push(() => s.server.close());
    expect((await within(p.call('count'), 10_000, 'the call after')).msg).toEqual(u32(1));
    expect(ran).toBe(1);
  });

  it('refused unrun by a draining server and waiting to be resent: fails Cancelled when the source aborts, and never runs', async () => {
    const port = await freePort();
    const ledger: string[] = [];
    const gate = deferred<void>();
    const a = await generation('A', port, ledger, gate, cleanup);
    const p = new ConnPool({ transport, address: `127.0.0.1:${port}`, maxConnections: 1, backoff: { initialMs: 5, maxMs: 20 }, connectBudgetMs: 60_000, logger: silentLogger });
    cleanup.push(() => p.destroy());
    // A call holds A's connection open while A closes: it drains, refusing new calls unrun.
    const held = ended(p.call('hold'));
    await waitFor(() => a.stats().inFlight === 1, { what: 'the held call on A' });
    const closingA = a.close();
    await waitFor(() => a.stats().listeners === 0, { what: 'A to stop listening' });
    const source = new CountingSource();
    const charge = ended(p.call('charge', str('1'), { abortSource: source }));
    // Refused by A, it waits for a connection no server answers.
    await waitFor(() => p.queued === 1, { what: 'the refused call to wait for its resend' });
    expect(source.listening).toBe(1);
    source.abort();
    expect(isCancelled(await within(charge, 5_000, 'the waiting resend'))).toBe(true);
    expect(p.queued).toBe(0);
    expect(source.listening).toBe(0);
    gate.resolve();
    await within(held, 10_000, 'the held call');
    await within(closingA, 10_000, 'A to close');
    // B takes the address over: only the call made after runs there.
    await generation('B', port, ledger, gate, cleanup);
    await within(p.call('charge', str('2')), 10_000, 'the charge after');
    expect(ledger).toEqual(['2 B']);
  });
});

describe('a FailoverPool call with an abortSource', () => {
  it('on the wire, and a stream: cancelled when the source aborts, its handler told, and not tried on the other server', async () => {
    const holds = [holdingHandler(), holdingHandler()];
    const feeds = [feedingHandler(), feedingHandler()];
    const servers = await Promise.all([0, 1].map((i) => startServer({ hold: holds[i]!.handler, feed: feeds[i]!.handler, ok: () => u32(i) }, { closeWaitMs: 0 })));
    for (const s of servers) cleanup.push(() => s.server.close());
    const pool = new FailoverPool({ transport, servers: servers.map((s) => s.address), logger: silentLogger, pool: { logger: silentLogger } });
    cleanup.push(() => pool.close());
    const source = new CountingSource();
    // May run twice: a failed attempt would go to the other server, were it one to fail over from.
    const call = ended(pool.call('hold', undefined, { abortSource: source, idempotent: true }));
    await waitFor(() => holds[0]!.seen.length + holds[1]!.seen.length === 1, { what: 'the handler' });
    const req = [...holds[0]!.seen, ...holds[1]!.seen][0]!;
    source.abort();
    expect(isCancelled(await within(call, 5_000, 'the call'))).toBe(true);
    await waitFor(() => req.signal.aborted, { what: "the handler's signal" });
    expect(isCancelled(req.signal.reason)).toBe(true);
    // Calls made after reach both servers, each behind anything sent there before.
    await Promise.all([pool.call('ok'), pool.call('ok'), pool.call('ok')]);
    expect(holds[0]!.seen.length + holds[1]!.seen.length).toBe(1);

    const streamSource = new CountingSource();
    const stream = pool.openStream('feed', undefined, { abortSource: streamSource });
    expect(await within(readThenAbort(stream, streamSource, 2), 5_000, 'the stream')).toBe(2);
    expect(isCancelled(await ended(stream.result))).toBe(true);
    await waitFor(() => [...feeds[0]!.seen, ...feeds[1]!.seen][0]?.signal.aborted, { what: "the stream handler's signal" });
    expect(source.listening + streamSource.listening).toBe(0);
  });

  it('with a source aborted already: fails Cancelled, run nowhere', async () => {
    let ran = 0;
    const servers = await Promise.all([0, 1].map(() => startServer({ hold: () => void ran++, ok: () => u32(1) })));
    for (const s of servers) cleanup.push(() => s.server.close());
    const pool = new FailoverPool({ transport, servers: servers.map((s) => s.address), logger: silentLogger, pool: { logger: silentLogger } });
    cleanup.push(() => pool.close());
    expect(isCancelled(await ended(pool.call('hold', undefined, { abortSource: abortedSource(), idempotent: true })))).toBe(true);
    await Promise.all([pool.call('ok'), pool.call('ok'), pool.call('ok')]);
    expect(ran).toBe(0);
  });
});

describe("the server's ReverseCaller (req.conn.caller) with an abortSource", () => {
  /** A server whose `back` handler calls the client's `peer.hang` back with the options `opts(req)` gives; how each reverse call ended. */
  async function callingBack(opts: (req: ServerRequest) => CallOptions, serveWindow = 4) {
    const outcomes: Promise<unknown>[] = [];
    const hung: ServerRequest[] = [];
    const s = await startServer({
      back: (req) => {
        const reverse = ended(callOn(req.conn.caller!, 'peer.hang', opts(req)));
        outcomes.push(reverse);
        return reverse.then(() => u32(outcomes.length));
      },
      // Calls back only once its own call was cancelled: a source aborted already.
      lateBack: async (req) => {
        await new Promise((told) => req.onAbort(told));
        outcomes.push(ended(callOn(req.conn.caller!, 'peer.hang', opts(req))));
      },
    });
    cleanup.push(() => s.server.close());
    const peer = await s.connect({
      keepaliveMs: 0,
      serveWindow,
      serve: createRouter({ 'peer.hang': (req) => (hung.push(req), new Promise(() => {})) }),
    });
    cleanup.push(() => peer.destroy());
    await peer.ping();
    const caller = s.server.openConnections()[0]!.caller as unknown as { inFlight: number; queued: number };
    return { peer, outcomes, hung, caller };
  }

  it('on the wire and waiting in its line: each fails Cancelled when its source aborts; the waiting one never reaches the client', async () => {
    const sources = [new CountingSource(), new CountingSource()];
    let made = 0;
    // The client runs one reverse call at a time: the first takes the slot, the second waits in the server's line.
    const { peer, outcomes, hung, caller } = await callingBack(() => ({ abortSource: sources[made++]! }), 1);
    void peer.call('back').catch(() => {});
    void peer.call('back').catch(() => {});
    await waitFor(() => caller.inFlight === 1 && caller.queued === 1, { what: 'one reverse call out, one waiting' });
    await waitFor(() => hung.length === 1, { what: 'the first on the client' });
    sources[1]!.abort();
    expect(isCancelled(await within(outcomes[1]!, 5_000, 'the waiting reverse call'))).toBe(true);
    expect(caller.queued).toBe(0);
    sources[0]!.abort();
    expect(isCancelled(await within(outcomes[0]!, 5_000, 'the reverse call out'))).toBe(true);
    // A round trip later, the client still ran only the first, which was cancelled there (its slot free: docs/protocol.md, "Calls both ways").
    await peer.ping();
    expect(hung).toHaveLength(1);
    expect(caller.inFlight).toBe(0);
    expect(sources[0]!.listening + sources[1]!.listening).toBe(0);
  });

  it("with its handler's own request as the source: cancelled when the client cancels the outer call, and never sent when that was cancelled already", async () => {
    const { peer, outcomes, hung } = await callingBack((req) => ({ abortSource: req }));
    const ac = new AbortController();
    const outer = ended(peer.call('back', undefined, { signal: ac.signal }));
    await waitFor(() => hung.length === 1, { what: 'the reverse call on the client' });
    ac.abort();
    expect(isCancelled(await within(outer, 5_000, 'the outer call'))).toBe(true);
    expect(isCancelled(await within(outcomes[0]!, 5_000, 'the reverse call'))).toBe(true);
    expect(hung).toHaveLength(1);

    const ac2 = new AbortController();
    const late = ended(peer.call('lateBack', undefined, { signal: ac2.signal }));
    ac2.abort();
    expect(isCancelled(await late)).toBe(true);
    await waitFor(() => outcomes.length === 2, { what: 'the late reverse call' });
    expect(isCancelled(await outcomes[1]!)).toBe(true);
    // A round trip later the client still saw only the first.
    await peer.ping();
    expect(hung).toHaveLength(1);
  });

  it('with a source aborted already: fails Cancelled, never sent', async () => {
    const { peer, outcomes, hung } = await callingBack(() => ({ abortSource: abortedSource() }));
    expect((await peer.call('back')).msg).toEqual(u32(1));
    expect(isCancelled(await outcomes[0]!)).toBe(true);
    await peer.ping();
    expect(hung).toHaveLength(0);
  });
});

describe('a hop: server A passes its own request on as the abortSource of its call to server B', () => {
  /** B's `hang` never answers; A's `forward` calls it with `{ abortSource: req }` (and `extra`: a deadline of its own), answering with how that ended. */
  async function hop(extra: CallOptions = {}) {
    const b = holdingHandler();
    const B = await startServer({ hang: b.handler, ok: () => u32(7) }, { closeWaitMs: 0, logger: silentLogger });
    cleanup.push(() => B.server.close());
    const toB = await B.connect({ keepaliveMs: 0 });
    cleanup.push(() => toB.destroy());
    const atA: ServerRequest[] = [];
    const forwarded: Promise<unknown>[] = [];
    const A = await startServer(
      {
        forward: (req) => {
          atA.push(req);
          const p = ended(toB.call(new TextDecoder().decode(req.msg), undefined, { ...extra, abortSource: req }));
          forwarded.push(p);
          // Answers how it went (no handler error for the router to log): the tests read `forwarded`.
          return p.then((r) => u32(r === 'answered' ? 1 : 0));
        },
      },
      { closeWaitMs: 0, logger: silentLogger },
    );
    cleanup.push(() => A.server.close());
    const client = await A.connect({ keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    await client.ping();
    return { b, toB, atA, forwarded, client };
  }

  for (const [name, opts] of [
    ['a call with a signal (a head, no deadline)', {}],
    ['a call with a signal and a deadline', { timeoutMs: 60_000 }],
  ] as const) {
    it(`${name}: the client's cancel reaches B's handler`, async () => {
      const { b, atA, forwarded, client } = await hop(opts);
      const ac = new AbortController();
      const call = ended(client.call('forward', str('hang'), { ...opts, signal: ac.signal }));
      await waitFor(() => b.seen.length === 1, { what: "B's handler" });
      expect(atA[0]!.deadline === undefined).toBe(!('timeoutMs' in opts));
      ac.abort();
      expect(isCancelled(await within(call, 5_000, 'the call to A'))).toBe(true);
      expect(isCancelled(await within(forwarded[0]!, 5_000, 'the call to B'))).toBe(true);
      await waitFor(() => b.seen[0]!.signal.aborted, { what: "B's signal" });
      expect(isCancelled(b.seen[0]!.signal.reason)).toBe(true);
      expect(isCancelled(b.told[0])).toBe(true);
    });
  }

  for (const [name, opts] of [
    ['a plain call (no head)', {}],
    ['a call with a deadline (a head)', { timeoutMs: 60_000 }],
  ] as const) {
    it(`${name}: when A's connection from the client is destroyed, B's handler is told`, async () => {
      const { b, atA, forwarded, client } = await hop(opts);
      void client.call('forward', str('hang'), opts).catch(() => {});
      await waitFor(() => b.seen.length === 1, { what: "B's handler" });
      const req = atA[0]!;
      expect(req.deadline === undefined).toBe(!('timeoutMs' in opts));
      // A plain request hooks its connection's abort: one listener, the call to B.
      if (!('timeoutMs' in opts)) expect(toldListeners(req)).toBe(1);
      client.destroy();
      expect(isCancelled(await within(forwarded[0]!, 5_000, 'the call to B'))).toBe(true);
      await waitFor(() => b.seen[0]!.signal.aborted, { what: "B's signal" });
      expect(isCancelled(b.seen[0]!.signal.reason)).toBe(true);
      if (!('timeoutMs' in opts)) expect(toldListeners(req)).toBe(0);
    });
  }
});

describe('nothing stays hooked', () => {
  it('to one source shared by thousands of calls of every carrier: answered, timed out, cancelled by their own signal, streams broken off', async () => {
    const shared = new CountingSource();
    const s = await startServer(
      {
        ok: () => undefined,
        hang: () => new Promise(() => {}),
        feed: feedingHandler().handler,
        // Calls the client back with the shared source: answered, or timed out.
        back: (req) => callOn(req.conn.caller!, new TextDecoder().decode(req.msg), { abortSource: shared, timeoutMs: 30 }).then(() => undefined, () => undefined),
      },
      { logger: silentLogger, reverseCalls: { maxQueued: 10_000 } },
    );
    cleanup.push(() => s.server.close());
    // `peer.slow` answers after the reverse call's 30 ms: the call times out and is cancelled on the client, its late answer dropped.
    const slow = () => new Promise<void>((r) => setTimeout(r, 60));
    const c = await s.connect({ logger: silentLogger, serve: createRouter({ 'peer.ok': () => undefined, 'peer.slow': slow }) });
    cleanup.push(() => c.destroy());
    const p = new ConnPool({ transport, address: s.address, maxConnections: 2, logger: silentLogger });
    cleanup.push(() => p.destroy());
    const f = new FailoverPool({ transport, servers: [s.address], logger: silentLogger, pool: { logger: silentLogger } });
    cleanup.push(() => f.close());
    const dead = new ConnPool({ transport, address: `127.0.0.1:${await freePort()}`, backoff: { initialMs: 5, maxMs: 20 }, connectBudgetMs: 60_000, logger: silentLogger });
    cleanup.push(() => dead.destroy());

    for (const carrier of [c, p, f]) {
      for (let i = 0; i < 4_000; i += 500) {
        const round: Promise<unknown>[] = [];
        for (let j = 0; j < 500; j++) {
          round.push(ended(carrier.call('ok', undefined, { abortSource: shared })));
          if (j % 5 === 0) round.push(ended(carrier.call('hang', undefined, { abortSource: shared, timeoutMs: 30 })));
          if (j % 5 === 1) {
            const own = new AbortController();
            round.push(ended(carrier.call('hang', undefined, { abortSource: shared, signal: own.signal })));
            own.abort();
          }
        }
        // Listening while out: the count is of live calls, not of nothing.
        expect(shared.listening).toBeGreaterThan(0);
        await Promise.all(round);
      }
      // Streams left by `break` after their first item, and cancelled before any: two rounds of
      // 50 at once per carrier (the second on what the first left), not six. Each stream's handler
      // floods its whole window before the break reaches it, so streams were most of this test's
      // time; a listener any one of them left shows in the count below all the same.
      for (let i = 0; i < 100; i += 50) {
        const round = Array.from({ length: 50 }, async () => {
          for await (const _ of carrier.openStream('feed', undefined, { abortSource: shared })) break;
          const st = carrier.openStream('feed', undefined, { abortSource: shared });
          st.cancel();
          await ended(st.result);
        });
        await Promise.all(round);
      }
    }
    // Calls waiting for a connection that never comes: timed out, or cancelled by their own signal.
    for (let i = 0; i < 1_000; i += 250) {
      const round: Promise<unknown>[] = [];
      for (let j = 0; j < 250; j++) {
        const own = new AbortController();
        round.push(ended(dead.call('ok', undefined, { abortSource: shared, timeoutMs: 20 })));
        round.push(ended(dead.call('ok', undefined, { abortSource: shared, signal: own.signal })));
        own.abort();
      }
      expect(shared.listening).toBeGreaterThan(0);
      await Promise.all(round);
    }
    // Reverse calls: answered, and timed out on the wire.
    for (let i = 0; i < 2_000; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => c.call('back', str(j % 10 === 0 ? 'peer.slow' : 'peer.ok'))));
    }
    // Every one of them hooked it (17 400 calls and streams of the three carriers, 2 000 waiting, 2 000 reverse).
    expect(shared.hooked).toBeGreaterThanOrEqual(20_800);
    expect(shared.listening).toBe(0);
    // A hang guard, not a speed test: millions of frames on a loaded 2-core CI machine (it timed out at 30 s there).
  }, 90_000);

  it("to a plain request's connection, by the calls its handlers passed it on to: none once they settled", async () => {
    const gate = deferred<void>();
    let atB = 0;
    const B = await startServer({ ok: () => undefined, hang: () => new Promise(() => {}), gated: () => (atB++, gate.promise.then(() => undefined)) }, { logger: silentLogger });
    cleanup.push(() => B.server.close());
    const toB = await B.connect({ logger: silentLogger });
    cleanup.push(() => toB.destroy());
    let one: ServerRequest | undefined;
    const A = await startServer(
      {
        forward: (req) => {
          one ??= req;
          const [action, timeout] = new TextDecoder().decode(req.msg).split(' ');
          // Answers 1 when B answered, 0 when not (no handler error for the router to log).
          return ended(toB.call(action!, undefined, { abortSource: req, ...(timeout ? { timeoutMs: Number(timeout) } : {}) })).then((r) => u32(r === 'answered' ? 1 : 0));
        },
      },
      { logger: silentLogger },
    );
    cleanup.push(() => A.server.close());
    const client = await A.connect({ logger: silentLogger });
    cleanup.push(() => client.destroy());
    // Held at B (within the window of A's connection to B): every one of them listens on A's connection.
    const held = Array.from({ length: 100 }, () => client.call('forward', str('gated')).then((r) => readU32(r.msg)));
    await waitFor(() => atB === 100, { what: 'the calls held at B' });
    expect(one!.deadline).toBeUndefined();
    expect(toldListeners(one!)).toBe(100);
    gate.resolve();
    expect(await Promise.all(held)).toEqual(Array(100).fill(1));
    expect(toldListeners(one!)).toBe(0);
    // Thousands more, answered or timed out at B.
    for (let i = 0; i < 6_000; i += 1_000) {
      await Promise.all(Array.from({ length: 1_000 }, (_, j) => ended(client.call('forward', str(j % 10 === 0 ? 'hang 20' : 'ok')))));
    }
    expect(toldListeners(one!)).toBe(0);
  });
});

/*
 * A source that aborts because the call it stands for passed its deadline (a handler's `{ ctx }`,
 * a ServerRequest: its reason a Timeout): the calls made with it ran on what was left of that
 * deadline, so their callers read Timeout, not Cancelled, wherever they were; and, as for a
 * cancel, none is tried again (`retry: 'never'`), an idempotent one on another server neither.
 */
describe('an abortSource that aborts with its deadline (a Timeout)', () => {
  const deadlinePassed = () => new CountingSource(new RpcError(ErrorCode.Timeout, 'deadline passed'));
  const isFinalTimeout = (e: unknown): boolean => RpcError.is(e, ErrorCode.Timeout) && (e as RpcError).retry === 'never';

  it('ClientStream: on the wire, queued behind a full window, a stream, and aborted already: each reads Timeout; the handlers are told', async () => {
    const hold = holdingHandler();
    const feed = feedingHandler();
    const s = await startServer({ hold: hold.handler, feed: feed.handler }, { closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const client = await s.connect({ window: 1 });
    cleanup.push(() => client.destroy());
    await client.ping();
    const source = deadlinePassed();
    const onWire = ended(client.call('hold', undefined, { abortSource: source }));
    await waitFor(() => hold.seen.length === 1, { what: 'the handler' });
    // Its own source, told first: the slot the call on the wire frees must not send it.
    const queuedSource = deadlinePassed();
    const queued = ended(client.call('hold', undefined, { abortSource: queuedSource }));
    const stream = client.openStream('feed', undefined, { abortSource: source });
    await waitFor(() => feed.seen.length === 1, { what: 'the stream handler' });
    queuedSource.abort();
    source.abort();
    for (const outcome of [onWire, queued, ended(stream.result)]) expect(isFinalTimeout(await within(outcome, 5_000, 'the call'))).toBe(true);
    await waitFor(() => hold.seen[0]!.signal.aborted && feed.seen[0]!.signal.aborted, { what: "the handlers' signals" });
    expect(hold.seen.length).toBe(1); // the queued one never ran
    expect(isFinalTimeout(await ended(client.call('hold', undefined, { abortSource: source })))).toBe(true);
    expect(source.listening + queuedSource.listening).toBe(0);
  });

  it('ConnPool, waiting for a connection (nobody listens yet): reads Timeout, and never runs on the server that comes', async () => {
    const port = await freePort();
    const p = new ConnPool({ transport, address: `127.0.0.1:${port}`, backoff: { initialMs: 5, maxMs: 20 }, connectBudgetMs: 60_000, logger: silentLogger });
    cleanup.push(() => p.destroy());
    const source = deadlinePassed();
    const call = ended(p.call('count', undefined, { abortSource: source }));
    await waitFor(() => p.state === 'backoff', { what: 'the first connect to fail' });
    source.abort();
    expect(isFinalTimeout(await within(call, 5_000, 'the waiting call'))).toBe(true);
    let ran = 0;
    // closeWaitMs 0: its close, before the pool's, does not wait for the pool's connection to go.
    const s = await startServer({ count: () => u32(++ran) }, { closeWaitMs: 0 }, `127.0.0.1:${port}`);
    cleanup.push(() => s.server.close());
    expect((await within(p.call('count'), 10_000, 'the call after')).msg).toEqual(u32(1));
    expect(ran).toBe(1);
  });

  it('FailoverPool: an idempotent call on the wire reads Timeout, its handler told, and is not tried on the other server', async () => {
    const holds = [holdingHandler(), holdingHandler()];
    const servers = await Promise.all([0, 1].map((i) => startServer({ hold: holds[i]!.handler, ok: () => u32(i) }, { closeWaitMs: 0 })));
    for (const s of servers) cleanup.push(() => s.server.close());
    const pool = new FailoverPool({ transport, servers: servers.map((s) => s.address), logger: silentLogger, pool: { logger: silentLogger } });
    cleanup.push(() => pool.close());
    const source = deadlinePassed();
    const call = ended(pool.call('hold', undefined, { abortSource: source, idempotent: true, timeoutMs: 60_000 }));
    await waitFor(() => holds[0]!.seen.length + holds[1]!.seen.length === 1, { what: 'the handler' });
    const req = [...holds[0]!.seen, ...holds[1]!.seen][0]!;
    source.abort();
    expect(isFinalTimeout(await within(call, 5_000, 'the call'))).toBe(true);
    await waitFor(() => req.signal.aborted, { what: "the handler's signal" });
    await Promise.all([pool.call('ok'), pool.call('ok'), pool.call('ok')]);
    expect(holds[0]!.seen.length + holds[1]!.seen.length).toBe(1);
  });
});
