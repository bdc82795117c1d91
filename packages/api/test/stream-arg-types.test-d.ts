import type { Caller } from '@skein/stream';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { bidiStream, clientStream, createClient, implement, serverStream, service, withBlob, type WithBlob } from '../src/index.js';

type Item = { sku: string; qty: number };

// What the runtime and the docs accept must compile: a client stream's source is "any iterable or
// async generator" (StreamSource walks both), and a stream schema types each side as a unary
// method's does (the client passes the input schema's input, a default may be left out).
const Stock = service('Stock', {
  restock: clientStream<Item, { total: number }>(),
  sync: bidiStream<Item, Item>(),
  photos: clientStream<{ sku: string }, number>().blob(),
  search: serverStream({
    input: z.object({ q: z.string(), limit: z.number().default(10) }),
    output: z.object({ sku: z.string(), score: z.number().default(0) }),
  }),
  tally: clientStream({ input: z.object({ sku: z.string(), qty: z.number().default(1) }), output: z.number() }),
  mirror: bidiStream({ input: z.object({ text: z.string().trim() }), output: z.object({ text: z.string(), at: z.number().default(0) }) }),
});

declare const caller: Caller;
const stock = createClient(Stock, caller, { codec: null! });

describe('a client stream takes any iterable, as its runtime and docs say', () => {
  it('an array or a sync generator, not only an async iterable', () => {
    expectTypeOf(stock.restock([{ sku: 'a', qty: 1 }])).resolves.toEqualTypeOf<{ total: number }>();
    function* gen(): Generator<Item> {
      yield { sku: 'a', qty: 1 };
    }
    expectTypeOf(stock.sync(gen())).resolves.toEqualTypeOf<AsyncIterable<Item>>();
    expectTypeOf(stock.restock.result([])).resolves.toHaveProperty('ok');
    expectTypeOf(stock.photos([withBlob({ sku: 'a' }, new Uint8Array(1))])).resolves.toEqualTypeOf<WithBlob<number>>();
  });

  it('still refuses items of the wrong type, and a single item', () => {
    // @ts-expect-error qty must be a number
    void stock.restock([{ sku: 'a', qty: '1' }]);
    // @ts-expect-error one item is no stream of them
    void stock.restock({ sku: 'a', qty: 1 });
    // @ts-expect-error a .blob() stream's items are WithBlobs
    void stock.photos([{ sku: 'a' }]);
  });

  it('the handler still reads an async iterable', () => {
    implement(Stock, {
      restock: async (items) => {
        expectTypeOf(items).toEqualTypeOf<AsyncIterable<Item>>();
        return { total: 0 };
      },
      sync: (items) => items,
      photos: async () => withBlob(1),
      search: null!,
      tally: null!,
      mirror: null!,
    });
  });
});

describe("a stream's schemas type each side as a unary method's do", () => {
  it("the client passes the input schema's input (a default may be left out) and reads the output's output", () => {
    expectTypeOf(stock.search).parameter(0).toEqualTypeOf<{ q: string; limit?: number | undefined }>();
    expectTypeOf(stock.search({ q: 'x' })).resolves.toEqualTypeOf<AsyncIterable<{ sku: string; score: number }>>();
    expectTypeOf(stock.tally([{ sku: 'a' }])).resolves.toEqualTypeOf<number>();
  });

  it("the handler gets the input schema's output and yields the output schema's input", () => {
    implement(Stock, {
      restock: null!,
      sync: null!,
      photos: null!,
      async *search(q) {
        expectTypeOf(q).toEqualTypeOf<{ q: string; limit: number }>();
        yield { sku: q.q }; // score filled in by the output schema
      },
      async tally(items) {
        let n = 0;
        for await (const i of items) n += i.qty; // qty filled in: a number
        return n;
      },
      async *mirror(msgs) {
        for await (const m of msgs) yield { text: m.text };
      },
    });
  });

  it('still refuses a wrong field', () => {
    // @ts-expect-error limit must be a number
    void stock.search({ q: 'x', limit: 'ten' });
    // @ts-expect-error q is required (no default)
    void stock.search({ limit: 1 });
  });
});
