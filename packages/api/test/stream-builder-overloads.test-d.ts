import type { Caller } from '@skein/stream';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { bidiStream, clientStream, createClient, implement, method, serverStream, service, type StreamSchemas } from '../src/index.js';

// The stream builders have two signatures (schemas alone; type arguments with optional schemas):
// explicit type arguments must keep picking the second, one schema alone the first; and a
// required argument must stay required wherever undefined is no value of its type.
const Feed = service('Feed', {
  typed: serverStream<{ from: number }, string>(),
  typedWithSchema: serverStream<{ from: number }, string>({ input: z.object({ from: z.number() }) }),
  inputOnly: serverStream({ input: z.object({ from: z.number() }) }),
  outputOnly: serverStream({ output: z.string() }),
  upload: clientStream<number, string>(),
  chat: bidiStream<{ text: string }, { text: string }>({ output: z.object({ text: z.string() }) }),
  untyped: method(),
  nullable: method<{ id: string } | null, number>(),
  optionalSchema: method({ input: z.string().optional(), output: z.number() }),
  requiredSchema: method({ input: z.string(), output: z.number() }),
});

declare const caller: Caller;
const feed = createClient(Feed, caller, { codec: null! });

describe('explicit type arguments pick the type-argument signature', () => {
  it('with no schemas, or with one', () => {
    expectTypeOf(feed.typed).parameter(0).toEqualTypeOf<{ from: number }>();
    expectTypeOf(feed.typed({ from: 1 })).resolves.toEqualTypeOf<AsyncIterable<string>>();
    expectTypeOf(feed.typedWithSchema).parameter(0).toEqualTypeOf<{ from: number }>();
    expectTypeOf(feed.typedWithSchema({ from: 1 })).resolves.toEqualTypeOf<AsyncIterable<string>>();
    expectTypeOf(feed.upload([1, 2])).resolves.toEqualTypeOf<string>();
    expectTypeOf(feed.chat([{ text: 'a' }])).resolves.toEqualTypeOf<AsyncIterable<{ text: string }>>();
    // @ts-expect-error from is required
    void feed.typed();
    // @ts-expect-error from is a number
    void feed.typedWithSchema({ from: '1' });
    // @ts-expect-error a client stream's items are numbers
    void feed.upload(['1']);
  });
});

describe('one schema alone types its side; the other is unknown', () => {
  it('input only, output only', () => {
    expectTypeOf(feed.inputOnly).parameter(0).toEqualTypeOf<{ from: number }>();
    expectTypeOf(feed.inputOnly({ from: 1 })).resolves.toEqualTypeOf<AsyncIterable<unknown>>();
    // @ts-expect-error its input is required
    void feed.inputOnly();
    expectTypeOf(feed.outputOnly()).resolves.toEqualTypeOf<AsyncIterable<string>>();
    implement(Feed, {
      typed: null!,
      typedWithSchema: null!,
      async *inputOnly(q) {
        expectTypeOf(q).toEqualTypeOf<{ from: number }>();
        yield 1;
      },
      outputOnly: null!,
      upload: null!,
      chat: null!,
      untyped: null!,
      nullable: null!,
      optionalSchema: null!,
      requiredSchema: null!,
    });
  });
});

describe('CallArgs leaves out only what may be undefined', () => {
  it('unknown (no types) and an optional schema may be left out', () => {
    void feed.untyped();
    void feed.optionalSchema();
    expectTypeOf(feed.optionalSchema).parameter(0).toEqualTypeOf<string | undefined>();
  });

  it('null is not undefined, and a required schema stays required', () => {
    // @ts-expect-error null must be given, as null
    void feed.nullable();
    void feed.nullable(null);
    // @ts-expect-error the schema's string is required
    void feed.requiredSchema();
    // @ts-expect-error not through result() either
    void feed.requiredSchema.result();
  });
});

// The package's own StreamSchemas types a schema by its output alone (StandardSchemaV1<unknown,
// In>): passed without type arguments it must not leave the client's argument, or what a handler
// yields, `unknown` (anything at all), as it did not before the schemas-alone signature.
const findSchemas: StreamSchemas<{ q: string }, number> = { input: z.object({ q: z.string() }), output: z.number() };
const Search = service('Search', {
  find: serverStream(findSchemas),
  tally: clientStream(findSchemas as StreamSchemas<{ q: string }, number>),
});
const search = createClient(Search, caller, { codec: null! });

describe('a StreamSchemas object passed alone types both sides by its schemas, as before', () => {
  it("the client's argument and items", () => {
    expectTypeOf(search.find).parameter(0).toEqualTypeOf<{ q: string }>();
    expectTypeOf(search.find({ q: 'x' })).resolves.toEqualTypeOf<AsyncIterable<number>>();
    // @ts-expect-error q is required
    void search.find();
    // @ts-expect-error nor anything else
    void search.find(42);
    // @ts-expect-error the items are { q: string }
    void search.tally([1]);
  });

  it('what a handler yields', () => {
    implement(Search, {
      async *find(q) {
        expectTypeOf(q).toEqualTypeOf<{ q: string }>();
        yield 1;
      },
      tally: async () => 1,
    });
    implement(Search, {
      // @ts-expect-error its items are numbers
      async *find() {
        yield 'one';
      },
      tally: async () => 1,
    });
  });
});
