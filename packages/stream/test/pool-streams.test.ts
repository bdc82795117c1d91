import { ErrorCode, RpcError } from '@skein/core';
import { freePort } from '@skein/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, type ActionHandler, type StreamCaller } from '../src/index.js';
import { localServer, textOf } from './pool-harness.js';
import { readU32, transport, u32 } from './harness.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

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
