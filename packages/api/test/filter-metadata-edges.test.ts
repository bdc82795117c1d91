import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, type Codec } from '@skein/core';
import { ConnPool } from '@skein/stream';
import { cleanups } from '@skein/test-utils';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { describe, expect, it } from 'vitest';
import { bearerAuth, bearerToken, createClient, implement, method, serverStream, service, type Filter } from '../src/index.js';
import { serve, transport } from './harness.js';

/*
 * Edges of a client filter's `info.setMetadata` left open: keys the wire cannot carry (a symbol),
 * the reserved `skein-stream`, bearerAuth's own `key`, and a copy handed unsent to another call.
 */

const cleanup = cleanups();
const codec: Codec = msgpackCodec;

type Entries = Record<string, string>;

const Echo = service('Echo', { unary: method<void, Entries>(), watch: serverStream<void, Entries>() });

async function echoServer() {
  let handled = 0;
  const s = await serve({
    codec,
    services: [
      implement(Echo, {
        unary: (_arg, ctx) => (handled++, { ...ctx.metadata }),
        async *watch(_arg, ctx) {
          handled++;
          yield { ...ctx.metadata };
        },
      }),
    ],
  });
  cleanup.push(() => s.close());
  return { ...s, handled: () => handled };
}

const refusal = (error: unknown) => error as RpcError;

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('metadata keys that no call head can carry', () => {
  it('a symbol key set by a filter fails its call, InvalidArgument, unsent, never an entry lost', async () => {
    const s = await echoServer();
    const key = Symbol('tenant');
    const client = createClient(Echo, s.stream, { codec, filters: [{ before: (info) => info.setMetadata(key as unknown as string, 'acme') }] });
    for (const [action, call] of [['Echo.unary', () => client.unary()], ['Echo.watch', () => client.watch()]] as const) {
      const err = refusal(await call().catch((e: unknown) => e));
      expect(err).toBeInstanceOf(RpcError);
      expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: `${action}: setMetadata: metadata keys are strings, got Symbol(tenant)` });
    }
    expect(s.handled()).toBe(0);
    expect(s.stream.state).toBe('open');
  });

  it('so does an object with symbol keys that a filter assigned to info.metadata', async () => {
    const s = await echoServer();
    const assigning: Filter = { before: (info) => void ((info as { metadata: unknown }).metadata = { 'x-tenant': 'acme', [Symbol('id')]: 'r1' }) };
    const client = createClient(Echo, s.stream, { codec, filters: [assigning] });
    for (const [action, call] of [['Echo.unary', () => client.unary()], ['Echo.watch', () => client.watch()]] as const) {
      const err = refusal(await call().catch((e: unknown) => e));
      expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: `${action}: metadata keys are strings, got Symbol(id)` });
    }
    expect(s.handled()).toBe(0);
  });

  it('so does such an object a later filter wrote to: the copy it makes keeps the entry, and is looked at', async () => {
    const s = await echoServer();
    const assigning: Filter = { before: (info) => void ((info as { metadata: unknown }).metadata = { [Symbol('id')]: 'r1' }) };
    const client = createClient(Echo, s.stream, { codec, filters: [assigning, { before: (info) => info.setMetadata('x-tenant', 'acme') }] });
    const err = refusal(await client.unary().catch((e: unknown) => e));
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'Echo.unary: metadata keys are strings, got Symbol(id)' });
    expect(s.handled()).toBe(0);
  });
});

describe('the reserved key skein-stream', () => {
  it('is refused to a filter, InvalidArgument, on a unary call and a stream alike, unsent', async () => {
    const s = await echoServer();
    const client = createClient(Echo, s.stream, { codec, filters: [{ before: (info) => info.setMetadata('skein-stream', 'server') }] });
    for (const [action, call] of [['Echo.unary', () => client.unary()], ['Echo.watch', () => client.watch()]] as const) {
      const err = refusal(await call().catch((e: unknown) => e));
      expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: `${action}: setMetadata: metadata 'skein-stream' is reserved for Skein's own use` });
    }
    expect(s.handled()).toBe(0);
  });

  it('is refused in an object a filter assigned to info.metadata', async () => {
    const s = await echoServer();
    const assigning: Filter = { before: (info) => void ((info as { metadata: unknown }).metadata = { 'skein-stream': 'both' }) };
    const err = refusal(await createClient(Echo, s.stream, { codec, filters: [assigning] }).unary().catch((e: unknown) => e));
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: "Echo.unary: metadata 'skein-stream' is reserved for Skein's own use" });
    expect(s.handled()).toBe(0);
  });

  it('is refused when a plain-JS filter writes it straight into the copy setMetadata made (as a symbol key is)', async () => {
    const s = await echoServer();
    const writing = (key: string | symbol): Filter => ({
      before(info) {
        info.setMetadata('a', '1');
        (info.metadata as Record<string | symbol, string>)[key] = 'x';
      },
    });
    const reserved = refusal(await createClient(Echo, s.stream, { codec, filters: [writing('skein-stream')] }).unary().catch((e: unknown) => e));
    expect(reserved).toMatchObject({ code: ErrorCode.InvalidArgument, message: "Echo.unary: metadata 'skein-stream' is reserved for Skein's own use" });
    const symbol = refusal(await createClient(Echo, s.stream, { codec, filters: [writing(Symbol('s'))] }).unary().catch((e: unknown) => e));
    expect(symbol).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'Echo.unary: metadata keys are strings, got Symbol(s)' });
    expect(s.handled()).toBe(0);
  });
});

describe("the caller's own entries, carried over into a filter's copy", () => {
  it("go as they would without filters: a stream handler's ctx.metadata, kind entry and all, passed on to a call whose filter writes", async () => {
    const back = await echoServer();
    const tagged = createClient(Echo, back.stream, { codec, filters: [{ before: (info) => info.setMetadata('x-request-id', 'r1') }] });
    const Front = service('Front', { relay: serverStream<void, Entries[]>() });
    const front = await serve({
      codec,
      services: [
        implement(Front, {
          async *relay(_arg, ctx) {
            // ctx.metadata has this stream's own `skein-stream: server`: the caller's, not the filter's.
            const unary = await tagged.unary(undefined, { metadata: ctx.metadata });
            const [watched] = await all(await tagged.watch(undefined, { metadata: ctx.metadata }));
            yield [unary, watched!];
          },
        }),
      ],
    });
    cleanup.push(() => front.close());
    const [relayed] = await all(await createClient(Front, front.stream, { codec }).relay(undefined, { metadata: { 'x-user': 'ada' } }));
    expect(relayed).toEqual([
      { 'x-user': 'ada', 'skein-stream': 'server', 'x-request-id': 'r1' },
      { 'x-user': 'ada', 'skein-stream': 'server', 'x-request-id': 'r1' },
    ]);
  });
});

describe("bearerAuth's and bearerToken's key", () => {
  it('is checked when bearerAuth is made: one no call head can carry, or a reserved one, is refused, InvalidArgument', () => {
    for (const key of ['', 'k'.repeat(256), 'é'.repeat(128), 7 as unknown as string, Symbol('k') as unknown as string]) {
      expect(() => bearerAuth(() => 'p', { key })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, message: 'bearerAuth: key must be a metadata key, a string of 1 to 255 bytes' }));
    }
    expect(() => bearerAuth(() => 'p', { key: 'skein-stream' })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, message: "bearerAuth: metadata 'skein-stream' is reserved for Skein's own use" }));
    expect(() => bearerAuth(() => 'p', { key: 'k'.repeat(255) })).not.toThrow();
    expect(() => bearerAuth(() => 'p')).not.toThrow();
  });

  it('is refused by bearerToken when reserved, when it is made', () => {
    expect(() => bearerToken(() => 't', { key: 'skein-stream' })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, message: "bearerToken: metadata 'skein-stream' is reserved for Skein's own use" }));
  });
});

describe("an outer call's metadata handed unsent to a call a filter makes", () => {
  it("is not written by the outer call's later filters: the inner call sends what it was handed", async () => {
    const s = await echoServer();
    // A fresh pool: the inner call waits for its connection, and goes once that is up, after the outer's later filters.
    const pool = new ConnPool({ transport, address: s.address });
    cleanup.push(() => pool.close());
    const inner = createClient(Echo, pool, { codec });
    let audit: Promise<Entries> | undefined;
    const outer = createClient(Echo, s.stream, {
      codec,
      filters: [
        { before: (info) => info.setMetadata('x-request-id', 'r1') },
        // An audit call, not waited for, with the entries the outer call has so far.
        { before: (info) => void (audit = inner.unary(undefined, { metadata: info.metadata })) },
        { before: (info) => info.setMetadata('x-token', 'outer-only') },
      ],
    });
    expect(await outer.unary()).toEqual({ 'x-request-id': 'r1', 'x-token': 'outer-only' });
    expect(await audit).toEqual({ 'x-request-id': 'r1' });
  });

  it('nor by those the outer call runs while the inner call waits: for its asynchronous argument schema (a stream), or its own filter', async () => {
    const s = await echoServer();
    // The server's Echo, whose stream this client checks with a schema that answers later, as one that looks something up does.
    const later: StandardSchemaV1<unknown, undefined> = { '~standard': { version: 1, vendor: 'test', validate: () => Promise.resolve({ value: undefined }) } };
    const looked = createClient(service('Echo', { watch: serverStream({ input: later }) }), s.stream, { codec });
    // A filter that awaits: the outer call's later filters run meanwhile.
    const waiting = createClient(Echo, s.stream, { codec, filters: [{ before: () => Promise.resolve() }] });
    const handed: Promise<unknown[]>[] = [];
    const outer = createClient(Echo, s.stream, {
      codec,
      filters: [
        { before: (info) => info.setMetadata('x-request-id', 'r1') },
        { before: (info) => void handed.push(looked.watch(undefined, { metadata: info.metadata }).then(all), waiting.unary(undefined, { metadata: info.metadata }).then((e) => [e])) },
        { before: (info) => info.setMetadata('x-token', 'outer-only') },
      ],
    });
    expect(await outer.unary()).toEqual({ 'x-request-id': 'r1', 'x-token': 'outer-only' });
    expect(await Promise.all(handed)).toEqual([[{ 'x-request-id': 'r1', 'skein-stream': 'server' }], [{ 'x-request-id': 'r1' }]]);
  });
});
