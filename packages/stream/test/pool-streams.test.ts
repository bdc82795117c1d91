import { ErrorCode, RpcError } from '@skein/core';
import { freePort, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, refusedStream, type ActionHandler, type StreamCaller } from '../src/index.js';
import { localServer, textOf } from './pool-harness.js';
import { readU32, transport, u32 } from './harness.js';

const cleanup = cleanups();

/** Streams `to` numbers, then answers `done`. */
const count: ActionHandler = async (req) => {
  const to = readU32(req.msg);
  for (let i = 1; i <= to; i++) await req.stream!.write(u32(i));
  return new TextEncoder().encode('done');
};

/** Sums the client's numbers. */
const sum: ActionHandler = async (req) => {
  let total = 0;
  for await (const item of req.stream!) total += readU32(item.msg);
  return u32(total);
};

async function server(table: Record<string, ActionHandler>) {
  const s = await localServer(table);
  cleanup.push(() => s.server.close());
  return s;
}

async function readAll(caller: StreamCaller, to: number): Promise<{ got: number[]; answer: string }> {
  const s = caller.openStream('count', u32(to));
  const got: number[] = [];
  for await (const item of s) got.push(readU32(item.msg));
  return { got, answer: textOf(await s.result) };
}

describe('streams over pools', () => {
  it('a ConnPool opens a stream before its first connection is up, and both directions flow', async () => {
    const s = await server({ count, sum });
    const pool = new ConnPool({ transport, address: s.address });
    cleanup.push(() => pool.close());
    expect(pool.state).toBe('idle');
    const { got, answer } = await readAll(pool, 500);
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(answer).toBe('done');

    const up = pool.openStream('sum');
    for (let i = 1; i <= 100; i++) await up.write(u32(i));
    up.end();
    expect(readU32((await up.result).msg)).toBe(5050);
    expect(s.counts).toEqual({ count: 1, sum: 1 });
    expect(s.accepted).toBe(1);
  });

  it('a closed ConnPool fails a stream with Closed', async () => {
    const s = await server({ count });
    const pool = new ConnPool({ transport, address: s.address });
    await pool.close();
    const err = await pool.openStream('count', u32(1)).result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(ErrorCode.Closed);
  });

  it('a FailoverPool moves a stream that could not open to another server', async () => {
    const dead = `127.0.0.1:${await freePort()}`; // nobody listens
    const live = await server({ count });
    const pool = new FailoverPool({ transport, servers: [dead, live.address], strategy: 'leader' });
    cleanup.push(() => pool.close());
    const { got, answer } = await readAll(pool, 3);
    expect(got).toEqual([1, 2, 3]);
    expect(answer).toBe('done');
    expect(live.counts).toEqual({ count: 1 });
  });

  it('a FailoverPool never moves a stream once it is open, even when the call is idempotent and the hook says next', async () => {
    const failing: ActionHandler = async (req) => {
      await req.stream!.write(u32(1));
      throw new RpcError(ErrorCode.Overloaded, 'going away');
    };
    const a = await server({ count: failing });
    const b = await server({ count: failing });
    const pool = new FailoverPool({ transport, servers: [a.address, b.address], strategy: 'leader', shouldFailover: () => 'next' });
    cleanup.push(() => pool.close());
    const s = pool.openStream('count', u32(5), { idempotent: true });
    const got: number[] = [];
    const err = await (async () => {
      for await (const item of s) got.push(readU32(item.msg));
    })().catch((e: unknown) => e);
    expect(got).toEqual([1]);
    expect((err as RpcError).code).toBe(ErrorCode.Overloaded);
    expect((a.counts.count ?? 0) + (b.counts.count ?? 0)).toBe(1);
  });

  it('a FailoverPool stream cancelled while its server is chosen never opens', async () => {
    const s = await server({ count });
    const pool = new FailoverPool({ transport, servers: [s.address] });
    cleanup.push(() => pool.close());
    const ac = new AbortController();
    const stream = pool.openStream('count', u32(3), { signal: ac.signal });
    ac.abort();
    const err = await stream.result.catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(ErrorCode.Cancelled);
    // A later stream on the same pool opens: the cancelled one left nothing behind.
    expect((await readAll(pool, 2)).got).toEqual([1, 2]);
    expect(s.counts).toEqual({ count: 1 });
  });
});

describe('open streams count as load', () => {
  /** Holds its stream open (ignoring its signal) and tells who it is. */
  const held = (name: string, opened: string[]): Record<string, ActionHandler> => ({
    hold: (req) => {
      opened.push(name);
      void req.stream!.write(u32(1));
      return new Promise(() => {});
    },
    who: () => new TextEncoder().encode(name),
  });

  it('a ConnPool\'s inFlight counts its open streams, and drops them when they end', async () => {
    const opened: string[] = [];
    const s = await server(held('a', opened));
    const pool = new ConnPool({ transport, address: s.address });
    cleanup.push(() => pool.destroy());
    const streams = [pool.openStream('hold'), pool.openStream('hold'), pool.openStream('hold')];
    for (const st of streams) await st[Symbol.asyncIterator]().next(); // each is open on the server
    expect(opened).toHaveLength(3);
    expect(pool.stats().inFlight).toBe(3);
    streams[0]!.cancel();
    expect(pool.inFlight).toBe(2);
    for (const st of streams) st.cancel();
    expect(pool.inFlight).toBe(0);
  });

  it('least-active sends calls away from the server that carries a stream', async () => {
    const opened: string[] = [];
    const a = await server(held('a', opened));
    const b = await server(held('b', opened));
    const pool = new FailoverPool({ transport, servers: [a.address, b.address], strategy: 'least-active' });
    cleanup.push(() => pool.close());
    const stream = pool.openStream('hold');
    cleanup.push(() => stream.cancel());
    await stream[Symbol.asyncIterator]().next();
    const busy = opened[0]!;
    expect(pool.servers().map((v) => v.inFlight).sort()).toEqual([0, 1]);
    // Without the stream counted both would be idle, and ties go round: some calls would go to the busy one.
    const replies: string[] = [];
    for (let i = 0; i < 6; i++) replies.push(textOf(await pool.call('who')));
    expect(replies).toEqual(Array(6).fill(busy === 'a' ? 'b' : 'a'));
  });
});

describe('a FailoverPool stream pinned to one server (openStreamTo)', () => {
  const tagged = (name: string): Record<string, ActionHandler> => ({
    count: async (req) => {
      for (let i = 1; i <= readU32(req.msg); i++) await req.stream!.write(u32(i));
      return new TextEncoder().encode(name);
    },
    sum,
  });

  async function drain(s: ReturnType<FailoverPool['openStreamTo']>): Promise<{ got: number[]; answer: string }> {
    const got: number[] = [];
    for await (const item of s) got.push(readU32(item.msg));
    return { got, answer: textOf(await s.result) };
  }

  it('opens on the named server, by any spelling of its address, both ways, and never on another', async () => {
    const a = await server(tagged('a'));
    const b = await server(tagged('b'));
    const pool = new FailoverPool({ transport, servers: [a.address, `tcp://${b.address}`], strategy: 'leader' });
    cleanup.push(() => pool.close());
    expect(await drain(pool.openStreamTo(b.address, 'count', u32(3)))).toEqual({ got: [1, 2, 3], answer: 'b' });
    expect(await drain(pool.openStreamTo(`tcp://${b.address}`, 'count', u32(1)))).toEqual({ got: [1], answer: 'b' });
    const up = pool.openStreamTo(b.address, 'sum');
    for (let i = 1; i <= 10; i++) await up.write(u32(i));
    up.end();
    expect(readU32((await up.result).msg)).toBe(55);
    expect(b.counts).toEqual({ count: 2, sum: 1 });
    expect(a.counts).toEqual({}); // the leader, which openStream would have picked
    expect(a.accepted).toBe(0);
  });

  it('fails at once with InvalidArgument for an address not in the pool or not an address, and with Closed once the pool is', async () => {
    const a = await server(tagged('a'));
    const pool = new FailoverPool({ transport, servers: [a.address] });
    cleanup.push(() => pool.close());
    const unknown = pool.openStreamTo('127.0.0.1:1', 'count', u32(1));
    expect(unknown.isDone).toBe(true);
    await expect(unknown.result).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/127\.0\.0\.1:1 is not in the pool/) });
    await expect(drain(pool.openStreamTo('not an address:x', 'count', u32(1)))).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(a.accepted).toBe(0); // nothing connected for them
    await pool.close();
    await expect(pool.openStreamTo(a.address, 'count', u32(1)).result).rejects.toMatchObject({ code: ErrorCode.Closed });
  });

  it('to a server that is down fails Unreachable, without trying the one that is up', async () => {
    const dead = `127.0.0.1:${await freePort()}`; // nobody listens
    const live = await server(tagged('live'));
    // Retries and a live second server: openStream would move the stream there (see above).
    const pool = new FailoverPool({ transport, servers: [dead, live.address], strategy: 'leader', retries: 2 });
    cleanup.push(() => pool.close());
    const err = await drain(pool.openStreamTo(dead, 'count', u32(2), { failFast: true })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(ErrorCode.Unreachable);
    expect(live.counts).toEqual({});
    expect(live.accepted).toBe(0);
  });

  it("counts for its server's circuit breaker, as the pool's own streams do", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const live = await server(tagged('live'));
    const events: string[] = [];
    const pool = new FailoverPool({
      transport,
      servers: [dead, live.address],
      circuitBreaker: { minCalls: 2, failureRatio: 0.5 },
      onServerHealth: (e) => void events.push(`${e.kind} ${e.address === dead ? 'dead' : 'live'}`),
    });
    cleanup.push(() => pool.close());
    for (let i = 0; i < 2; i++) {
      await expect(pool.openStreamTo(dead, 'count', u32(1), { failFast: true }).result).rejects.toMatchObject({ code: ErrorCode.Unreachable });
    }
    expect(events).toEqual(['circuit-open dead']);
    // An open stream that talks counts as a success for its server.
    for (let i = 0; i < 2; i++) expect((await drain(pool.openStreamTo(live.address, 'count', u32(1)))).answer).toBe('live');
    expect(pool.stats().map((s) => s.circuit)).toEqual(['open', 'closed']);
  });

  it('refusedStream, for carriers of your own, fails reading and result with its error, and writes nothing', async () => {
    const why = new RpcError(ErrorCode.InvalidArgument, 'nowhere to open it');
    const s = refusedStream(why);
    expect(s.isDone).toBe(true);
    await expect(s.result).rejects.toBe(why);
    await expect(s[Symbol.asyncIterator]().next()).rejects.toBe(why);
    await expect(s.write(u32(1))).rejects.toBe(why);
  });
});
