import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { deferred, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { bidiStream, clientStream, createClient, implement, method, serverStream, service, type CallContext } from '../src/index.js';
import { serve } from './harness.js';

const cleanup = cleanups();

const Feed = service('Feed', {
  count: serverStream<{ to: number }, number>(),
  sum: clientStream<number, { sum: number; n: number }>(),
  double: bidiStream<number, number>(),
  forever: serverStream<void, number>(),
  add: method<{ a: number; b: number }, number>(),
});

async function setup(onForeverEnd?: (ctx: CallContext) => void) {
  const s = await serve({
    codec: msgpackCodec,
    logger: silentLogger,
    services: [
      implement(Feed, {
        async *count({ to }) {
          for (let i = 1; i <= to; i++) yield i;
        },
        async sum(values) {
          let sum = 0;
          let n = 0;
          for await (const v of values) (sum += v), n++;
          return { sum, n };
        },
        async *double(values) {
          for await (const v of values) yield v * 2;
        },
        async *forever(_: void, ctx: CallContext) {
          try {
            for (let i = 0; ; i++) yield i;
          } finally {
            onForeverEnd?.(ctx);
          }
        },
        add: ({ a, b }) => a + b,
      }),
    ],
  });
  cleanup.push(() => s.close());
  return createClient(Feed, s.stream, { codec: msgpackCodec });
}

describe('typed streams', () => {
  it('server streaming: an async generator on the server, for await on the client', async () => {
    const feed = await setup();
    const got: number[] = [];
    for await (const v of await feed.count({ to: 1000 })) got.push(v);
    expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(await feed.add({ a: 1, b: 2 })).toBe(3);
  });

  it('client streaming: any (async) iterable in, one result out', async () => {
    const feed = await setup();
    async function* values() {
      for (let i = 0; i < 500; i++) yield i;
    }
    expect(await feed.sum(values())).toEqual({ sum: (499 * 500) / 2, n: 500 });
    expect(await feed.sum([1, 2, 3] as unknown as AsyncIterable<number>)).toEqual({ sum: 6, n: 3 });
  });

  it('both ways', async () => {
    const feed = await setup();
    async function* values() {
      for (let i = 0; i < 300; i++) yield i;
    }
    const got: number[] = [];
    for await (const v of await feed.double(values())) got.push(v);
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => i * 2));
  });

  it('breaking out on the client ends the server\'s generator with its signal fired', async () => {
    const ended = deferred<unknown>();
    const feed = await setup((ctx) => ended.resolve(ctx.signal.reason));
    let n = 0;
    for await (const _ of await feed.forever()) if (++n === 50) break;
    expect(((await ended.promise) as RpcError).code).toBe(ErrorCode.Cancelled);
  });
});
