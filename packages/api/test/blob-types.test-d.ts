import { codeErrors } from '@skein/core';
import type { Caller } from '@skein/stream';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { bidiStream, clientStream, createClient, implement, method, serverStream, service, withBlob, type MethodBuilder, type WithBlob } from '../src/index.js';

class TooBig extends Error {}

const Files = service('Files', {
  put: method<{ name: string }, { size: number }>().blob().throws(codeErrors({ 1: TooBig })),
  read: serverStream<{ name: string }, { offset: number }>().blob(),
  write: clientStream<{ offset: number }, number>().blob(),
  checked: serverStream({ input: z.object({ to: z.number() }), output: z.string() }),
});

declare const caller: Caller;
const files = createClient(Files, caller, { codec: null! });

describe('.blob() and stream schemas in the types', () => {
  it('a .blob() method takes and gives WithBlobs, its errors unchanged', () => {
    expectTypeOf(files.put).parameter(0).toEqualTypeOf<WithBlob<{ name: string }>>();
    expectTypeOf(files.put(withBlob({ name: 'a' }, new Uint8Array(1)))).resolves.toEqualTypeOf<WithBlob<{ size: number }>>();
    expectTypeOf(files.put.result(withBlob({ name: 'a' }))).resolves.toHaveProperty('ok');
    // @ts-expect-error the bare value is not enough
    void files.put({ name: 'a' });
  });

  it('each stream item is a WithBlob', () => {
    expectTypeOf(files.read).parameter(0).toEqualTypeOf<WithBlob<{ name: string }>>();
    expectTypeOf(files.read(withBlob({ name: 'a' }))).resolves.toEqualTypeOf<AsyncIterable<WithBlob<{ offset: number }>>>();
    expectTypeOf(files.write).parameter(0).toEqualTypeOf<AsyncIterable<WithBlob<{ offset: number }>> | Iterable<WithBlob<{ offset: number }>>>();
    expectTypeOf(files.write(null!)).resolves.toEqualTypeOf<WithBlob<number>>();
  });

  it('.blob() twice is one blob a value, as at run time (a flag set again)', () => {
    const Twice = service('Twice', {
      put: method<{ name: string }, number>().blob().blob(),
      read: serverStream<{ name: string }, { offset: number }>().blob().idempotent().blob(),
    });
    const twice = createClient(Twice, caller, { codec: null! });
    expectTypeOf(twice.put).parameter(0).toEqualTypeOf<WithBlob<{ name: string }>>();
    expectTypeOf(twice.put(withBlob({ name: 'a' }))).resolves.toEqualTypeOf<WithBlob<number>>();
    expectTypeOf(twice.read(withBlob({ name: 'a' }))).resolves.toEqualTypeOf<AsyncIterable<WithBlob<{ offset: number }>>>();
    // @ts-expect-error a blob inside a blob is no value of it
    void twice.put(withBlob(withBlob({ name: 'a' })));
  });

  it('.blob() twice in any order with .throws() and .idempotent(), schemas and every stream kind: one blob a value', () => {
    const Orders = service('Orders', {
      thrownFirst: method<{ name: string }, number>().throws(codeErrors({ 1: TooBig })).blob().idempotent().blob(),
      thrownBetween: method<{ name: string }, number>().blob().throws(codeErrors({ 1: TooBig })).blob(),
      // A default in the schema: the client may leave `n` out, the handler gets it.
      schemas: method({ input: z.object({ n: z.number().default(1) }), output: z.string() }).blob().blob(),
      upload: clientStream<{ offset: number }, number>().blob().idempotent().blob(),
      chat: bidiStream<{ text: string }, { text: string }>().blob().throws(codeErrors({ 1: TooBig })).blob(),
    });
    const orders = createClient(Orders, caller, { codec: null! });
    expectTypeOf(orders.thrownFirst).parameter(0).toEqualTypeOf<WithBlob<{ name: string }>>();
    expectTypeOf(orders.thrownFirst.result(withBlob({ name: 'a' }))).resolves.toHaveProperty('ok');
    expectTypeOf(orders.thrownBetween(withBlob({ name: 'a' }))).resolves.toEqualTypeOf<WithBlob<number>>();
    expectTypeOf(orders.schemas).parameter(0).toEqualTypeOf<WithBlob<{ n?: number | undefined }>>();
    expectTypeOf(orders.schemas(withBlob({}))).resolves.toEqualTypeOf<WithBlob<string>>();
    expectTypeOf(orders.upload).parameter(0).toEqualTypeOf<AsyncIterable<WithBlob<{ offset: number }>> | Iterable<WithBlob<{ offset: number }>>>();
    expectTypeOf(orders.upload([])).resolves.toEqualTypeOf<WithBlob<number>>();
    expectTypeOf(orders.chat([])).resolves.toEqualTypeOf<AsyncIterable<WithBlob<{ text: string }>>>();
    implement(Orders, {
      thrownFirst: ({ value }) => withBlob(value.name.length),
      thrownBetween: ({ blob }) => withBlob(blob.length),
      schemas: ({ value }) => withBlob(String(value.n)),
      async upload(items) {
        let n = 0;
        for await (const { value } of items) n += value.offset;
        return withBlob(n);
      },
      async *chat(items) {
        for await (const { value } of items) yield withBlob({ text: value.text });
      },
    });
    // A builder's type names the declaration: a method declared `.blob()` is a MethodBuilder with B = true.
    expectTypeOf(method<number, string>().blob().blob()).toEqualTypeOf<MethodBuilder<WithBlob<number>, WithBlob<string>, never, WithBlob<number>, WithBlob<string>, true>>();
  });

  it('stream schemas give the argument and item types', () => {
    expectTypeOf(files.checked).parameter(0).toEqualTypeOf<{ to: number }>();
    expectTypeOf(files.checked({ to: 1 })).resolves.toEqualTypeOf<AsyncIterable<string>>();
  });

  it('handlers are typed the same way', () => {
    implement(Files, {
      put: ({ value, blob }) => withBlob({ size: blob.length + value.name.length }),
      async *read({ value }) {
        yield withBlob({ offset: value.name.length }, new Uint8Array(0));
      },
      async write(items) {
        let n = 0;
        for await (const { blob } of items) n += blob.length;
        return withBlob(n);
      },
      async *checked({ to }) {
        yield String(to);
      },
    });
    // @ts-expect-error a .blob() handler returns a WithBlob
    implement(Files, { put: () => ({ size: 1 }), read: null!, write: null!, checked: null! });
  });
});
