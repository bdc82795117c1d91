import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bidiStream, clientStream, createClient, implement, serverStream, service } from '../src/index.js';
import { serve } from './harness.js';
import { cleanups } from '@skein/test-utils';

// What stream-arg-types.test-d.ts lets compile, run over a real connection: the types promise
// nothing the runtime does not do (no casts here).
const cleanup = cleanups();

const Stock = service('Stock', {
  tally: clientStream({ input: z.object({ sku: z.string(), qty: z.number().default(1) }), output: z.number() }),
  search: serverStream({
    input: z.object({ q: z.string(), limit: z.number().default(2) }),
    output: z.object({ sku: z.string(), score: z.number().default(0) }),
  }),
  echo: bidiStream<string, string>(),
});

async function start() {
  const s = await serve({
    codec: msgpackCodec,
    logger: silentLogger,
    services: [
      implement(Stock, {
        async tally(items) {
          let n = 0;
          for await (const i of items) n += i.qty;
          return n;
        },
        async *search({ q, limit }) {
          for (let i = 0; i < limit; i++) yield { sku: `${q}-${i}` };
        },
        async *echo(msgs) {
          for await (const m of msgs) yield m.toUpperCase();
        },
      }),
    ],
  });
  cleanup.push(() => s.close());
  return createClient(Stock, s.stream, { codec: msgpackCodec });
}

async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

describe('stream arguments and schema defaults as their types say', () => {
  it('a client stream and a bidi stream take an array or a sync generator', async () => {
    const stock = await start();
    expect(await stock.tally([{ sku: 'a', qty: 2 }, { sku: 'b' }])).toBe(3);
    function* words(): Generator<string> {
      yield 'a';
      yield 'b';
    }
    expect(await drain(await stock.echo(words()))).toEqual(['A', 'B']);
  });

  it("a field the stream's schema defaults may be left out, each side filled in", async () => {
    const stock = await start();
    expect(await drain(await stock.search({ q: 'x' }))).toEqual([
      { sku: 'x-0', score: 0 },
      { sku: 'x-1', score: 0 },
    ]);
  });
});
