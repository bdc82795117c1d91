import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError } from '@skein/core';
import { ConnPool } from '@skein/stream';
import { freePort, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, method, serverStream, service } from '../src/index.js';
import { transport } from './harness.js';

// A typed stub over a ConnPool whose server is down, with a connect budget far beyond the test:
// `failFast: true` must reach the pool, which then fails the call at once with Unreachable. Lost
// on the way, the call waits for a connection until its own timeout (the safety net) and fails
// with Timeout instead.

const Svc = service('Svc', {
  plain: method<void, void>(),
  again: method<void, void>().idempotent(), // its options are rebuilt to say so
  feed: serverStream<void, number>(),
});

const cleanup = cleanups();

async function deadPool(): Promise<ConnPool> {
  const pool = new ConnPool({ transport, address: `127.0.0.1:${await freePort()}`, connectBudgetMs: 600_000 });
  cleanup.push(() => pool.destroy());
  return pool;
}

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as RpcError);
const SAFETY_NET_MS = 3_000;

describe('typed stubs forward failFast to a ConnPool', () => {
  it('an idempotent method (its options rebuilt) fails with Unreachable, not after its timeout', async () => {
    const stub = createClient(Svc, await deadPool(), { codec: msgpackCodec });
    const err = await failure(stub.again(undefined, { failFast: true, timeoutMs: SAFETY_NET_MS }));
    expect(err).toMatchObject({ code: ErrorCode.Unreachable, retry: 'safe' });
  });

  it("a method of a client with a default timeout (its options rebuilt to add it) fails with Unreachable", async () => {
    const stub = createClient(Svc, await deadPool(), { codec: msgpackCodec, timeoutMs: SAFETY_NET_MS });
    const err = await failure(stub.plain(undefined, { failFast: true }));
    expect(err).toMatchObject({ code: ErrorCode.Unreachable, retry: 'safe' });
  });

  it('a streaming method fails to open with Unreachable', async () => {
    const stub = createClient(Svc, await deadPool(), { codec: msgpackCodec });
    const err = await failure((async () => { for await (const _ of await stub.feed(undefined, { failFast: true, timeoutMs: SAFETY_NET_MS })); })());
    expect(err).toMatchObject({ code: ErrorCode.Unreachable });
  });

  it('without failFast the same call waits for a connection (here, until its timeout)', async () => {
    const stub = createClient(Svc, await deadPool(), { codec: msgpackCodec });
    const err = await failure(stub.again(undefined, { timeoutMs: 300 }));
    expect(err).toMatchObject({ code: ErrorCode.Timeout });
  });
});
