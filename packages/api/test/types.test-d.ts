import { codeErrors, type RpcError, type RemoteError } from '@skein/core';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type { Caller, StreamCaller } from '@skein/stream';
import { bidiStream, clientStream, createClient, implement, method, serverStream, service, withBlob, type CallContext, type Cluster, type MethodCallOptions, type Result, type ServerTypeConfig, type WithBlob } from '../src/index.js';

class DivideByZero extends Error {}
class Overflow extends Error {}

const Calculator = service('Calculator', {
  add: method<{ a: number; b: number }, number>(),
  div: method<{ a: number; b: number }, number>().throws(codeErrors({ 1: DivideByZero, 2: Overflow })),
  echo: method<Uint8Array, Uint8Array>().idempotent(),
  now: method<void, Date>(),
  parse: method({ input: z.object({ text: z.string().min(1) }), output: z.number().int() }),
});

declare const caller: Caller;
const calc = createClient(Calculator, caller, { codec: null! });

describe('client types are inferred from the definition', () => {
  it('types arguments and results', () => {
    expectTypeOf(calc.add).parameter(0).toEqualTypeOf<{ a: number; b: number }>();
    expectTypeOf(calc.add({ a: 1, b: 2 })).resolves.toEqualTypeOf<number>();
    expectTypeOf(calc.echo).parameter(0).toEqualTypeOf<Uint8Array>();
    expectTypeOf(calc.now()).resolves.toEqualTypeOf<Date>();
  });

  it('infers argument and result types from Standard Schemas', () => {
    expectTypeOf(calc.parse).parameter(0).toEqualTypeOf<{ text: string }>();
    expectTypeOf(calc.parse({ text: 'x' })).resolves.toEqualTypeOf<number>();
  });

  it("types a method's custom errors in the Result form", () => {
    expectTypeOf(calc.div.result({ a: 1, b: 0 })).resolves.toEqualTypeOf<
      Result<number, DivideByZero | Overflow>
    >();
    type Err = Extract<Awaited<ReturnType<typeof calc.div.result>>, { ok: false }>['error'];
    expectTypeOf<Err>().toEqualTypeOf<DivideByZero | Overflow | RpcError | RemoteError>();
  });

  it('rejects wrong arguments and unknown methods at compile time', () => {
    // @ts-expect-error b is missing
    void calc.add({ a: 1 });
    // @ts-expect-error no such method
    void calc.mul;
  });
});

describe('server handlers are checked against the definition', () => {
  it('gives handlers typed arguments and a context', () => {
    implement(Calculator, {
      add: (arg, ctx) => {
        expectTypeOf(arg).toEqualTypeOf<{ a: number; b: number }>();
        expectTypeOf(ctx).toEqualTypeOf<CallContext>();
        return arg.a + arg.b;
      },
      div: ({ a, b }) => a / b,
      echo: async (bytes) => bytes,
      now: () => new Date(),
      parse: ({ text }) => Number(text),
    });
  });

  it('refuses a handler with the wrong result type or a missing method', () => {
    implement(Calculator, {
      // @ts-expect-error returns a string where a number is declared
      add: () => 'three',
      div: () => 1,
      echo: (b) => b,
      now: () => new Date(),
      parse: () => 1,
    });
    // @ts-expect-error echo, now and parse are missing
    implement(Calculator, { add: () => 1, div: () => 1 });
  });
});

describe('a schema that fills in a value types each side as it sees the value', () => {
  // `page` may be left out by the client (the schema's default fills it in before the handler
  // runs); `total` may be left out by the handler (filled in before the client gets it).
  const Search = service('Search', {
    find: method({
      input: z.object({ q: z.string(), page: z.number().default(1) }),
      output: z.object({ hits: z.array(z.string()), total: z.number().default(0) }),
    }),
  });
  const search = createClient(Search, caller, { codec: null! });

  it('the client passes the input schema\'s input and gets the output schema\'s output', () => {
    expectTypeOf(search.find).parameter(0).toEqualTypeOf<{ q: string; page?: number | undefined }>();
    expectTypeOf(search.find({ q: 'x' })).resolves.toEqualTypeOf<{ hits: string[]; total: number }>();
    expectTypeOf(search.find.result).parameter(0).toEqualTypeOf<{ q: string; page?: number | undefined }>();
  });

  it("the handler gets the input schema's output and returns the output schema's input", () => {
    implement(Search, {
      find: (arg) => {
        expectTypeOf(arg).toEqualTypeOf<{ q: string; page: number }>();
        return { hits: [arg.q] };
      },
    });
  });

  it('keeps the types through throws, idempotent and blob', () => {
    const Blobs = service('Blobs', {
      put: method({ input: z.object({ name: z.string(), mode: z.string().default('w') }) }).throws(codeErrors({ 1: Overflow })).idempotent().blob(),
    });
    const blobs = createClient(Blobs, caller, { codec: null! });
    expectTypeOf(blobs.put).parameter(0).toEqualTypeOf<WithBlob<{ name: string; mode?: string | undefined }>>();
    implement(Blobs, {
      put: (arg) => {
        expectTypeOf(arg).toEqualTypeOf<WithBlob<{ name: string; mode: string }>>();
        return withBlob(undefined);
      },
    });
  });
});

describe("a cluster's $all", () => {
  const Feed = service('Feed', {
    stats: method<void, number>(),
    loose: method<any, any>(),
    count: serverStream<number, string>(),
    sum: clientStream<number, string>(),
    echo: bidiStream<string, string>(),
    files: serverStream<number, string>().blob(),
  });
  const rpc = null! as Cluster<{ feed: ServerTypeConfig<readonly [typeof Feed]> }>;

  it('has the unary methods only: a stream does not fan out', () => {
    expectTypeOf(rpc.feed.$all.Feed).toHaveProperty('stats');
    expectTypeOf(rpc.feed.$all.Feed).toHaveProperty('loose');
    expectTypeOf<keyof typeof rpc.feed.$all.Feed>().toEqualTypeOf<'stats' | 'loose'>();
    // Through $to, one server at a time, they are all there.
    expectTypeOf<keyof ReturnType<typeof rpc.feed.$to>['Feed']>().toEqualTypeOf<'stats' | 'loose' | 'count' | 'sum' | 'echo' | 'files'>();
  });
});

describe("a call's options", () => {
  it('take failFast, for a ConnPool (as route is for pools), on unary and streaming methods', () => {
    expectTypeOf(calc.add).parameter(1).toEqualTypeOf<MethodCallOptions | undefined>();
    expectTypeOf<MethodCallOptions['failFast']>().toEqualTypeOf<boolean | undefined>();
    void calc.add({ a: 1, b: 2 }, { failFast: true });
    void calc.echo.result(new Uint8Array(), { failFast: true, route: 'k' });
    const Feed = service('Feed', { count: serverStream<number, number>() });
    void createClient(Feed, caller as StreamCaller, { codec: null! }).count(3, { failFast: true });
    // @ts-expect-error -- a boolean
    void calc.add({ a: 1, b: 2 }, { failFast: 'yes' });
    // @ts-expect-error -- the method's definition alone says whether it may run twice
    void calc.add({ a: 1, b: 2 }, { idempotent: true });
  });

  it("take attemptTimeoutMs, a FailoverPool's cap on each attempt, per call as on a cluster type's pool", () => {
    expectTypeOf<MethodCallOptions['attemptTimeoutMs']>().toEqualTypeOf<number | undefined>();
    void calc.add({ a: 1, b: 2 }, { timeoutMs: 5_000, attemptTimeoutMs: 500 });
    expectTypeOf<NonNullable<ServerTypeConfig['pool']>['attemptTimeoutMs']>().toEqualTypeOf<number | undefined>();
    // @ts-expect-error -- a number of ms
    void calc.add({ a: 1, b: 2 }, { attemptTimeoutMs: '500' });
  });
});
