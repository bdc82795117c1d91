import { createClient, type Result, type WithBlob } from '@skein/api';
import type { Caller } from '@skein/stream';
import { describe, expectTypeOf, it } from 'vitest';
import { Calculator, DivideByZero, Feed, NotFound } from '../src/contract.mjs';

// The contract is plain JavaScript (every runtime loads it), typed with JSDoc: a TypeScript
// client of it is as typed as one of a service written in TypeScript.
declare const caller: Caller;
const calc = createClient(Calculator, caller, { codec: null! });

describe('the conformance contract gives a typed client', () => {
  it('types arguments and results', () => {
    expectTypeOf(calc.add).parameter(0).toEqualTypeOf<{ a: number; b: number }>();
    expectTypeOf(calc.add({ a: 1, b: 2 })).resolves.toEqualTypeOf<number>();
    expectTypeOf(calc.echo({} as Uint8Array)).resolves.toEqualTypeOf<Uint8Array>();
  });

  it('types the custom errors', () => {
    expectTypeOf(calc.div.result({ a: 1, b: 0 })).resolves.toMatchTypeOf<Result<number, DivideByZero>>();
    expectTypeOf(calc.lookup.result('k')).resolves.toMatchTypeOf<Result<string, NotFound>>();
  });
});

describe('the conformance contract gives typed streams', () => {
  const feed = createClient(Feed, caller, { codec: null! });
  it('types their arguments and items, blobs included', () => {
    expectTypeOf(feed.count({ to: 3 })).resolves.toEqualTypeOf<AsyncIterable<number>>();
    // A client stream takes any iterable of its items, sync or async.
    expectTypeOf(feed.sum).parameter(0).toEqualTypeOf<AsyncIterable<number> | Iterable<number>>();
    expectTypeOf(feed.mirror).parameter(0).toEqualTypeOf<AsyncIterable<WithBlob<string>> | Iterable<WithBlob<string>>>();
    expectTypeOf(feed.mirror(null!)).resolves.toEqualTypeOf<AsyncIterable<WithBlob<string>>>();
  });
});
