import { EMPTY_BYTES, ErrorCode, RpcError, silentLogger } from '@skein/core';
import { ManualClock, portOf, startRazorServer, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, RpcServer, StreamCall, createRouter, type ActionHandler, type Dispatch, type FailoverPoolOptions, type ServerRequest } from '../src/index.js';
import type { StreamWire } from '../src/client/stream-call.js';
import { readU32, transport, u32 } from './harness.js';

// When a FailoverPool may move a stream that a server refused after it opened: a draining
// server answers a request that arrives after its close() with a bare Closed, before dispatch,
// so the stream never ran there. Servers run on a ManualClock that never moves: a draining
// connection then stays open (its quiet-tick check never runs) until the client ends it, so no
// test depends on how fast the refusal comes back.

const cleanup = cleanups();

interface Server {
  server: RpcServer;
  address: string;
  /** The opening requests dispatched (streams and calls), by action. */
  ran: string[];
}

async function serve(dispatch: Dispatch): Promise<Server> {
  const ran: string[] = [];
  const server = new RpcServer({
    dispatch: { dispatch: (req) => (ran.push(String(req.action)), dispatch.dispatch(req)) },
    clock: new ManualClock(),
    logger: silentLogger,
  });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return { server, address: `127.0.0.1:${portOf(a)}`, ran };
}

const router = (table: Record<string, ActionHandler>): Dispatch => createRouter(table, silentLogger);

/** Streams `to` numbers, then answers with the deadline it saw (0: none). */
const count: ActionHandler = async (req) => {
  for (let i = 1; i <= readU32(req.msg); i++) await req.stream!.write(u32(i));
  return u32(req.remainingMs() ?? 0);
};

/** Answers the deadline it saw. */
const deadline: ActionHandler = (req) => u32(req.remainingMs() ?? 0);

/** Reads the client's numbers to their end; answers with them, in the order they came. */
const collect: ActionHandler = async (req) => {
  const got: number[] = [];
  for await (const item of req.stream!) got.push(readU32(item.msg));
  return new TextEncoder().encode(got.join(','));
};

/** Echoes each of the client's numbers plus 100 until its end, then answers how many. */
const echo: ActionHandler = async (req) => {
  let n = 0;
  for await (const item of req.stream!) {
    n++;
    await req.stream!.write(u32(readU32(item.msg) + 100));
  }
  return u32(n);
};

/** Sends 1, waits for the client's end, then answers the deadline it saw. */
const hold: ActionHandler = async (req) => {
  await req.stream!.write(u32(1));
  for await (const _ of req.stream!);
  return u32(req.remainingMs() ?? 0);
};

/**
 * Servers a (leader) and b, a pool with a connection to each, and a draining: its close() has
 * begun, and the pool's connection to it, which carried a call, stays open, refusing requests.
 */
async function drainingLeader(table: Record<string, ActionHandler>, opts: Partial<FailoverPoolOptions> = {}) {
  const a = await serve(router({ ...table, warm: () => u32(0) }));
  const b = await serve(router({ ...table, warm: () => u32(0) }));
  const pool = new FailoverPool({ transport, servers: [a.address, b.address], strategy: 'leader', ...opts, pool: { stream: { keepaliveMs: 0 }, ...opts.pool } });
  cleanup.push(() => pool.close());
  await pool.call('warm'); // the leader's connection is up, its hello answered
  await new Promise<void>((resolve, reject) => pool.sendTo(b.address, 'warm', u32(0), {}, (err) => (err ? reject(err) : resolve())));
  void a.server.close();
  await waitFor(() => a.server.stats().listeners === 0); // its connections drain from here on
  return { a, b, pool };
}

async function readAll(s: AsyncIterable<{ msg: Uint8Array }>): Promise<number[]> {
  const got: number[] = [];
  for await (const item of s) got.push(readU32(item.msg));
  return got;
}

describe('a stream refused by a draining server after it opened', () => {
  it('moves to another server when nothing of it went either way, and runs once, there', async () => {
    const { a, b, pool } = await drainingLeader({ count });
    const s = pool.openStream('count', u32(3));
    expect(await readAll(s)).toEqual([1, 2, 3]);
    await s.result;
    expect(a.ran).toEqual(['warm']); // refused before dispatch
    expect(b.ran).toEqual(['warm', 'count']);
  });

  it('moves with its end(): a client-streaming stream ended before the refusal ends on the next server', async () => {
    const { a, b, pool } = await drainingLeader({ sum: async (req) => {
      let total = 0;
      for await (const item of req.stream!) total += readU32(item.msg);
      return u32(total + 100);
    } });
    const s = pool.openStream('sum');
    s.end();
    expect(readU32((await s.result).msg)).toBe(100);
    expect(a.ran).toEqual(['warm']);
    expect(b.ran).toEqual(['warm', 'sum']);
  });

  it('moves with the items the client wrote to it: written again on the next server, each read once, in order, before later ones', async () => {
    // It used to fail Closed, safe: "not moved to another server: an item was already written to it".
    const { a, b, pool } = await drainingLeader({ collect });
    const s = pool.openStream('collect');
    // Credit is there at once: the items go out to a before the refusal can come back.
    for (let i = 1; i <= 4; i++) await s.write(u32(i));
    await waitFor(() => b.ran.length === 2 || s.isDone, { what: 'the stream to run on b, or fail' });
    await s.write(u32(5));
    s.end();
    expect(new TextDecoder().decode((await s.result).msg)).toBe('1,2,3,4,5');
    expect(a.ran).toEqual(['warm']); // refused before dispatch
    expect(b.ran).toEqual(['warm', 'collect']);
  });

  it('a bidi stream moves with its items; what it writes after hearing from the next server follows them', async () => {
    const { a, b, pool } = await drainingLeader({ echo });
    const s = pool.openStream('echo');
    await s.write(u32(1));
    await s.write(u32(2));
    const got: number[] = [];
    for await (const item of s) {
      got.push(readU32(item.msg));
      if (got.length === 2) {
        await s.write(u32(3));
        s.end();
      }
    }
    expect(got).toEqual([101, 102, 103]);
    expect(readU32((await s.result).msg)).toBe(3);
    expect(a.ran).toEqual(['warm']);
    expect(b.ran).toEqual(['warm', 'echo']);
  });

  it('moves on past a razor v1 server (refused with Version before the open went out) with its items, to a third that runs it once; its observer counts each item once', async () => {
    const a = await serve(router({ collect, warm: () => u32(0) }));
    const v1 = await startRazorServer({ collect: () => u32(0) });
    cleanup.push(() => v1.close());
    const c = await serve(router({ collect }));
    const pool = new FailoverPool({ transport, servers: [a.address, v1.address, c.address], strategy: 'leader', retries: 2, pool: { stream: { keepaliveMs: 0 } } });
    cleanup.push(() => pool.close());
    await pool.call('warm');
    void a.server.close();
    await waitFor(() => a.server.stats().listeners === 0);
    const s = pool.openStream('collect');
    // An observer counts each item once, as the caller wrote it: not again as it is written again.
    let sent = 0;
    s.observe({ sent: () => void sent++, received: () => {} });
    for (let i = 1; i <= 4; i++) await s.write(u32(i));
    await waitFor(() => c.ran.length === 1 || s.isDone, { what: 'the stream to run on c, or fail' });
    await s.write(u32(5));
    s.end();
    expect(new TextDecoder().decode((await s.result).msg)).toBe('1,2,3,4,5');
    expect(s.keptBytes).toBe(0);
    expect(a.ran).toEqual(['warm']);
    // The v1 server was never sent the stream: no request of it reached it (a ping or the hello may have).
    expect(v1.accepted).toBe(1);
    expect(v1.seen.filter((r) => r.name === 'collect')).toEqual([]);
    expect(c.ran).toEqual(['collect']);
    expect(sent).toBe(5);
  });

  it('moves with a window of items and a write that waited for credit when it was refused: each read once, in order, on the next server', async () => {
    const { a, b, pool } = await drainingLeader({ collect });
    const s = pool.openStream('collect');
    // 64 KiB items: the server's window (1 MiB) takes 16; the 17th waits for credit, wherever the refusal finds the writes.
    const item = (i: number): Uint8Array => {
      const m = new Uint8Array(64 * 1024);
      m.set(u32(i));
      return m;
    };
    for (let i = 1; i <= 18; i++) await s.write(item(i));
    s.end();
    expect(new TextDecoder().decode((await s.result).msg)).toBe(Array.from({ length: 18 }, (_, i) => i + 1).join(','));
    expect(s.keptBytes).toBe(0);
    expect(a.ran).toEqual(['warm']);
    expect(b.ran).toEqual(['warm', 'collect']);
  });

  it('fails once its retries are spent, still safe, saying none of its items were read', async () => {
    const { a, b, pool } = await drainingLeader({ collect }, { retries: 1 });
    void b.server.close(); // b drains too: its connection refuses the stream and its items again
    await waitFor(() => b.server.stats().listeners === 0);
    const s = pool.openStream('collect');
    await s.write(u32(1));
    const err = (await s.result.catch((e: unknown) => e)) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect([err.code, err.retry, err.message]).toEqual([ErrorCode.Closed, 'safe', 'rpc_closed (none of the items it wrote were read; after 2 attempts)']);
    expect(a.ran).toEqual(['warm']);
    expect(b.ran).toEqual(['warm']);
  });

  it('is not moved when it wrote more than its streamWindowBytes before the server spoke: it keeps none, and fails saying so', async () => {
    const { a, b, pool } = await drainingLeader({ collect }, { pool: { stream: { keepaliveMs: 0, streamWindowBytes: 2048 } } });
    const s = pool.openStream('collect');
    for (let i = 0; i < 3; i++) await s.write(new Uint8Array(1024)); // 3 x 1056 credit: past 2048
    const err = (await s.result.catch((e: unknown) => e)) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect([err.code, err.retry]).toEqual([ErrorCode.Closed, 'safe']);
    expect(err.message).toMatch(/not moved to another server: it wrote more than its streamWindowBytes before the server spoke, more than a pool keeps to write again; it never ran on 127\.0\.0\.1:\d+ and read none of its items/);
    expect(a.ran).toEqual(['warm']);
    expect(b.ran).toEqual(['warm']);
  });

  it('is not moved when it was pinned to that server (openStreamTo): it fails with the refusal, still safe', async () => {
    const { a, b, pool } = await drainingLeader({ count });
    const s = pool.openStreamTo(a.address, 'count', u32(3));
    const err = (await s.result.catch((e: unknown) => e)) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect([err.code, err.retry]).toEqual([ErrorCode.Closed, 'safe']);
    expect(a.ran).toEqual(['warm']);
    expect(b.ran).toEqual(['warm']); // openStream moved the same stream here (the first test)
  });
});

describe('the final error of a stream that moved', () => {
  it('says how many attempts it took, as a call\'s does', async () => {
    const { a, b, pool } = await drainingLeader({ fails: () => Promise.reject(new Error('broken')) });
    const s = pool.openStream('fails');
    const err = (await s.result.catch((e: unknown) => e)) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(ErrorCode.Internal);
    expect(err.message).toMatch(/after 2 attempts/);
    expect(a.ran).toEqual(['warm']); // refused unrun: it moved
    expect(b.ran).toEqual(['warm', 'fails']);
    // A call that moves the same way words its failure the same.
    const again = await drainingLeader({ fails: () => Promise.reject(new Error('broken')) });
    const callErr = (await again.pool.call('fails').catch((e: unknown) => e)) as RpcError;
    expect(again.b.ran).toEqual(['warm', 'fails']);
    expect([callErr.code, callErr.retry, callErr.message]).toEqual([err.code, err.retry, err.message]);
  });
});

describe('a stream answered with a bare refusal after its handler ran', () => {
  /** A dispatch that breaks the protocol's rule: it sends an item, then claims a refusal unrun (bare Closed). */
  const liar: Dispatch = {
    dispatch: (req: ServerRequest) => {
      if (!req.stream) return req.fail(ErrorCode.Closed);
      void req.stream.write(u32(1)).then(() => req.fail(ErrorCode.Closed));
    },
  };

  it('is never moved, not even idempotent with a hook saying next, and fails saying it may have run', async () => {
    const a = await serve(liar);
    const b = await serve(router({ count }));
    const pool = new FailoverPool({ transport, servers: [a.address, b.address], strategy: 'leader', shouldFailover: () => 'next' });
    cleanup.push(() => pool.close());
    const s = pool.openStream('count', u32(3), { idempotent: true });
    const got: number[] = [];
    const err = (await (async () => {
      for await (const item of s) got.push(readU32(item.msg));
    })().catch((e: unknown) => e)) as RpcError;
    expect(got).toEqual([1]);
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(ErrorCode.Closed);
    expect(err.retry).toBe('idempotent');
    expect(err.message).toMatch(/may have executed on 127\.0\.0\.1:\d+/);
    expect(a.ran).toEqual(['count']);
    expect(b.ran).toEqual([]);
  });

  it('nor one that wrote before its server spoke: what it kept is dropped at the server\'s item, never written elsewhere', async () => {
    const a = await serve(liar);
    const b = await serve(router({ collect }));
    const pool = new FailoverPool({ transport, servers: [a.address, b.address], strategy: 'leader', shouldFailover: () => 'next' });
    cleanup.push(() => pool.close());
    const s = pool.openStream('collect', u32(0), { idempotent: true });
    await s.write(u32(7)); // waits for the open on a, then goes at once
    const items = s[Symbol.asyncIterator]();
    expect(readU32((await items.next()).value!.msg)).toBe(1);
    expect(s.keptBytes).toBe(0); // a's handler ran: the items are a's alone
    const err = (await s.result.catch((e: unknown) => e)) as RpcError;
    expect([err.code, err.retry]).toEqual([ErrorCode.Closed, 'idempotent']);
    expect(err.message).toMatch(/may have executed on 127\.0\.0\.1:\d+/);
    expect(a.ran).toEqual(['collect']);
    expect(b.ran).toEqual([]);
  });

  it('a ConnPool says the same of a stream its server answered a bare Closed after sending an item: it may have run', async () => {
    const a = await serve(liar);
    const pool = new ConnPool({ transport, address: a.address, maxConnections: 1 });
    cleanup.push(() => pool.destroy());
    const s = pool.openStream('count', u32(3));
    const items = s[Symbol.asyncIterator]();
    expect(readU32((await items.next()).value!.msg)).toBe(1);
    const err = (await s.result.catch((e: unknown) => e)) as RpcError;
    // A bare Closed reads 'safe' (never ran); the item it sent first says the handler ran.
    expect([err.code, err.retry]).toEqual([ErrorCode.Closed, 'idempotent']);
    expect(err.message).toMatch(/may have executed on 127\.0\.0\.1:\d+/);
  });
});

describe('timeoutMs of a call or stream that moves to another server bounds all its attempts', () => {
  // The client's clock is a ManualClock: 6 s pass between the first attempt and the refusal,
  // so what is left at b is 4 s, not a fresh 10 s. The servers' clocks never move: the
  // deadline a handler sees is exactly what was sent.
  async function setUp(opts: Partial<FailoverPoolOptions> = {}) {
    const clock = new ManualClock();
    const { a, b, pool } = await drainingLeader({ hold, deadline }, { clock, ...opts });
    return { a, b, pool, clock };
  }

  it('a plain call refused unrun gets what is left of its timeoutMs at the next server', async () => {
    const { b, pool, clock } = await setUp();
    const call = pool.call('deadline', u32(0), { timeoutMs: 10_000 });
    clock.advance(6_000);
    expect(readU32((await call).msg)).toBe(4_000);
    expect(b.ran).toEqual(['warm', 'deadline']);
  });

  it('a call without a timeoutMs of its own carries what is left of the pool\'s default to the next server', async () => {
    const { b, pool, clock } = await setUp({ pool: { stream: { keepaliveMs: 0, timeoutMs: 10_000 } } });
    const call = pool.call('deadline', u32(0));
    clock.advance(6_000);
    // Its first attempt sent no deadline (none of its own); the retry sends what is left of the default.
    expect(readU32((await call).msg)).toBe(4_000);
    expect(b.ran).toEqual(['warm', 'deadline']);
  });

  it('a call refused unrun once its time is over is not sent again: a Timeout that says it never ran', async () => {
    const { b, pool, clock } = await setUp();
    const call = pool.call('deadline', u32(0), { timeoutMs: 10_000 }).catch((e: unknown) => e);
    // Past its 10 s by the pool's ticks, before its connection to a times it out (a period later):
    // the refusal comes back with no time left.
    clock.advance(10_200);
    const err = (await call) as RpcError;
    expect([err.code, err.retry]).toEqual([ErrorCode.Timeout, 'safe']);
    expect(err.message).toBe("no time left for another attempt within the call's timeoutMs (10000 ms); the last one failed: rpc_closed");
    expect(b.ran).toEqual(['warm']);
  });

  it('a stream refused unrun after it opened gets what is left of its timeoutMs at the next server', async () => {
    const { b, pool, clock } = await setUp();
    const s = pool.openStream('hold', EMPTY_BYTES, { timeoutMs: 10_000 });
    clock.advance(6_000);
    const items = s[Symbol.asyncIterator]();
    expect(readU32((await items.next()).value!.msg)).toBe(1); // it runs on b
    s.end();
    expect(readU32((await s.result).msg)).toBe(4_000);
    expect((await items.next()).done).toBe(true);
    expect(b.ran).toEqual(['warm', 'hold']);
  });

  it('attemptTimeoutMs does not cut a stream short: the next server gets all that is left', async () => {
    const { b, pool, clock } = await setUp({ attemptTimeoutMs: 1_000 });
    const s = pool.openStream('hold', EMPTY_BYTES, { timeoutMs: 10_000, attemptTimeoutMs: 1_000 });
    clock.advance(6_000);
    const items = s[Symbol.asyncIterator]();
    expect(readU32((await items.next()).value!.msg)).toBe(1);
    s.end();
    expect(readU32((await s.result).msg)).toBe(4_000);
    expect(b.ran).toEqual(['warm', 'hold']);
  });

  it('a stream that moved ends at its whole timeoutMs, not a fresh one from the move', async () => {
    const { b, pool, clock } = await setUp();
    const s = pool.openStream('hold', EMPTY_BYTES, { timeoutMs: 10_000 });
    clock.advance(6_000);
    const items = s[Symbol.asyncIterator]();
    expect(readU32((await items.next()).value!.msg)).toBe(1); // it runs on b, with 4 s left
    // 10.5 s after it began: past its bound (and the ticks' lateness), well short of 6 + 10 s.
    clock.advance(4_500);
    const err = (await within(s.result.catch((e: unknown) => e), 10_000, 'the stream to end at its bound')) as RpcError;
    expect(err.code).toBe(ErrorCode.Timeout);
    expect(b.ran).toEqual(['warm', 'hold']);
  });
});

describe('StreamCall.unopened', () => {
  // The first connection's credit must not carry over to the next one: a write past the next
  // server's window would be an item without credit there, and it would close the connection.
  // A StreamWire that records what is sent stands in for the connection (the StreamCall is real).
  it('drops the credit the refusing server gave: the next open\'s window is all it sends', () => {
    const sent: number[] = [];
    const wire: StreamWire = { maxMessage: 1024, maxBlob: 1024, data: (seq) => void sent.push(seq), end() {}, credit() {}, cancel() {}, congested: () => undefined, observerDropped() {} };
    const s = new StreamCall(wire, 1024, undefined);
    const item = new Uint8Array(18); // costs 50 with the 32 of its header
    s.opened(1, 100);
    s.unopened();
    s.opened(2, 100);
    for (let i = 0; i < 5; i++) void s.write(item).catch(() => {});
    // While credit is above zero: 100, then 50; at 0 the third waits (the rest are refused: one write at a time).
    expect(sent).toEqual([2, 2]);
    s.cancel();
  });
});
