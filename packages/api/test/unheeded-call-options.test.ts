import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError } from '@skein/core';
import { portOf, within, cleanups } from '@skein/test-utils';
import { FailoverPool, RpcServer, type CallOptions } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, implement, method, serverStream, service, withBlob, type Filter, type MethodCallOptions } from '../src/index.js';
import { serve, transport } from './harness.js';

// A typed stub takes `idempotent` and `blob` from its method's definition, never from a call. In
// plain JS nothing stops a caller passing them (nor TypeScript, for a pool call's CallOptions
// reused): dropped silently, the caller would believe a call may be retried after a timeout when
// it is not (or the reverse). So a call naming one is refused with InvalidArgument, never sent.

const Pay = service('Pay', {
  charge: method<number, string>(),
  balance: method<void, number>().idempotent(),
  note: method<string, string>(),
  upload: method<string, number>().blob(),
  feed: serverStream<number, number>(),
});

const cleanup = cleanups();

/** Two servers that take every call and never answer: a caller times out, the call may have run. */
async function silentPool(): Promise<{ pool: FailoverPool; runs: () => number }> {
  let runs = 0;
  const addresses: string[] = [];
  for (let i = 0; i < 2; i++) {
    const server = new RpcServer({ dispatch: { dispatch: () => void runs++ }, closeWaitMs: 0 });
    const a = await server.listen(transport, '127.0.0.1:0');
    cleanup.push(() => server.close());
    addresses.push(`127.0.0.1:${portOf(a)}`);
  }
  const pool = new FailoverPool({ transport, servers: addresses, retries: 1, retryBudget: { ratio: 10 } });
  cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
  return { pool, runs: () => runs };
}

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as RpcError);
/** What plain JS (or a CallOptions object) lets a caller pass: the stub's type does not list it. */
const untyped = (o: Partial<CallOptions>) => o as MethodCallOptions;

describe('a typed stub refuses a per-call idempotent: only the definition says', () => {
  it('a method not declared idempotent, called with { idempotent: true }: refused, never sent (not run once and then silently not retried)', async () => {
    const { pool, runs } = await silentPool();
    const pay = createClient(Pay, pool, { codec: msgpackCodec });
    const err = await failure(pay.charge(5, untyped({ idempotent: true, timeoutMs: 300 })));
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(err!.message).toMatch(/^Pay\.charge: the call option idempotent \(true\) is not taken by a typed stub/);
    expect(err!.message).toContain('declare .idempotent() on the method');
    expect(runs()).toBe(0);
  });

  it('a method declared idempotent, called with { idempotent: false }: refused, not retried on another server behind the caller\'s back', async () => {
    const { pool, runs } = await silentPool();
    const pay = createClient(Pay, pool, { codec: msgpackCodec });
    const err = await failure(pay.balance(undefined, untyped({ idempotent: false, timeoutMs: 300 })));
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(err!.message).toMatch(/idempotent \(false\).*this one is declared \.idempotent\(\)/);
    expect(runs()).toBe(0);
  });

  it('.result() gives the refusal back as a typed error; a streaming method is refused the same way', async () => {
    const { pool, runs } = await silentPool();
    const pay = createClient(Pay, pool, { codec: msgpackCodec });
    const r = await pay.charge.result(5, untyped({ idempotent: true, timeoutMs: 300 }));
    expect(r).toMatchObject({ ok: false, error: { code: ErrorCode.InvalidArgument } });
    const err = await failure(pay.feed(3, untyped({ idempotent: true, timeoutMs: 300 })));
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(err!.message).toMatch(/^Pay\.feed: .*a pool never opens a stream twice/);
    expect(runs()).toBe(0);
  });

  it('an idempotent that agrees with the definition changes nothing: the call goes (a shared options object may carry it)', async () => {
    const { pool, runs } = await silentPool();
    const pay = createClient(Pay, pool, { codec: msgpackCodec });
    // A server that never answers: the call was sent (and runs), then times out.
    const err = await failure(pay.charge(5, untyped({ idempotent: false, timeoutMs: 300 })));
    expect(err).toMatchObject({ code: ErrorCode.Timeout });
    expect(runs()).toBe(1);
  });

  it('refused before the client filters: no before runs for a call never to be made', async () => {
    const { pool, runs } = await silentPool();
    let befores = 0;
    const filters: Filter[] = [{ before: () => void befores++ }];
    const pay = createClient(Pay, pool, { codec: msgpackCodec, filters });
    const err = await failure(pay.charge(5, untyped({ idempotent: true, timeoutMs: 300 })));
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(befores).toBe(0);
    expect(runs()).toBe(0);
  });
});

describe('a typed stub refuses a per-call blob: a .blob() method takes its bytes in its argument', () => {
  const handlers = implement(Pay, {
    charge: (n) => `charged ${n}`,
    balance: () => 1,
    note: (s) => s,
    upload: ({ value, blob }) => withBlob(value.length + blob.length),
    async *feed(n) {
      for (let i = 0; i < n; i++) yield i;
    },
  });

  it('on a method not declared .blob(), and on one that is', async () => {
    const h = await serve({ codec: msgpackCodec, services: [handlers] });
    cleanup.push(() => h.close());
    const pay = createClient(Pay, h.stream, { codec: msgpackCodec });
    const bytes = new Uint8Array([1, 2, 3]);
    const plain = await failure(pay.note('hi', untyped({ blob: bytes })));
    expect(plain).toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(plain!.message).toMatch(/^Pay\.note: the call option blob is not taken by a typed stub: .*declare \.blob\(\) on the method/);
    const blobbed = await failure(pay.upload(withBlob('ab'), untyped({ blob: bytes })));
    expect(blobbed).toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(blobbed!.message).toContain('pass withBlob(value, bytes) as its argument');
    // The same stub's ordinary calls, with options it does take (an undefined key is no option).
    expect(await pay.note('hi', untyped({ timeoutMs: 5_000, idempotent: undefined, blob: undefined }))).toBe('hi');
    expect(await pay.upload(withBlob('ab', bytes))).toEqual(withBlob(5, new Uint8Array()));
  });

  it('a call through client filters has its options checked once, as one without filters (before the filters, not again inside them)', async () => {
    const h = await serve({ codec: msgpackCodec, services: [handlers] });
    cleanup.push(() => h.close());
    const filters: Filter[] = [{ before: () => {} }];
    const plain = createClient(Pay, h.stream, { codec: msgpackCodec });
    const filtered = createClient(Pay, h.stream, { codec: msgpackCodec, filters });
    /** Options whose `idempotent` counts its reads: each check reads it once, whatever else does. */
    const counted = () => {
      const reads = { n: 0 };
      const o = { timeoutMs: 5_000 };
      Object.defineProperty(o, 'idempotent', { enumerable: true, get: () => void reads.n++ });
      return { o: o as MethodCallOptions, reads };
    };
    const readsOf = async (call: (o: MethodCallOptions) => Promise<unknown>) => {
      const { o, reads } = counted();
      await call(o);
      return reads.n;
    };
    const drained = async (items: Promise<AsyncIterable<number>>) => {
      for await (const _ of await items);
    };
    const unary = await readsOf((o) => plain.note('hi', o));
    expect(unary).toBeGreaterThan(0);
    expect(await readsOf((o) => filtered.note('hi', o))).toBe(unary);
    const stream = await readsOf((o) => drained(plain.feed(2, o)));
    expect(stream).toBeGreaterThan(0);
    expect(await readsOf((o) => drained(filtered.feed(2, o)))).toBe(stream);
  });
});
