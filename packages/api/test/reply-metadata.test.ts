import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, codeErrors, type Transport } from '@skein/core';
import { ClientStream, RpcServer, type Metadata } from '@skein/stream';
import { cleanups, olderSkeinClient } from '@skein/test-utils';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { bidiStream, clientStream, createClient, createServiceDispatch, implement, method, serverStream, service, type CallContext, type MethodCallOptions } from '../src/index.js';
import { listening, transport } from './harness.js';

/*
 * Reply metadata (docs/protocol.md, "Reply metadata"): a handler sets entries with
 * `ctx.setReplyMetadata(key, value)`, and the client reads them with the call option
 * `onReplyMetadata`, with the answer, ok or error. Before, a reply carried no metadata at all.
 */

const cleanup = cleanups();
const codec = msgpackCodec;

/** A kind of hello entry (wire/hello.ts): reply metadata, which an older Skein client does not offer. */
const REPLY_METADATA_KIND = 27;

class Refused extends Error {}

const Api = service('Api', {
  /** Sets each entry of its argument as reply metadata, then answers how many it set. */
  set: method<Record<string, string>, number>().throws(codeErrors({ 1: Refused })),
  /** Sets its entries, then fails with its method's own error. */
  refuse: method<Record<string, string>, void>().throws(codeErrors({ 1: Refused })),
  /** Sets `small`, then tries an entry of `bytes` bytes: answers the code it was refused with, or 0. */
  tryLarge: method<number, number>(),
  /** Yields 1..|n| (an entry set before, one in its `finally`); a negative n then fails with Refused. */
  feed: serverStream<number, number>().throws(codeErrors({ 1: Refused })),
  /** Sums the items and sets the sum; a negative item fails with Refused, after its entry. */
  sum: clientStream<number, number>().throws(codeErrors({ 1: Refused })),
  /** Echoes each item and sets how many; a negative item fails with Refused, after its entry. */
  echo: bidiStream<number, number>().throws(codeErrors({ 1: Refused })),
  /** Sets an entry, yields 1, and keeps its context (`keptCtx`) for an entry set after its end. */
  kept: serverStream<void, number>(),
});

let keptCtx: CallContext | undefined;

const impl = implement(Api, {
  set: (entries, ctx) => {
    for (const [k, v] of Object.entries(entries)) ctx.setReplyMetadata(k, v);
    return Object.keys(entries).length;
  },
  refuse: (entries, ctx) => {
    for (const [k, v] of Object.entries(entries)) ctx.setReplyMetadata(k, v);
    throw new Refused();
  },
  tryLarge: (bytes, ctx) => {
    ctx.setReplyMetadata('small', 'kept');
    try {
      ctx.setReplyMetadata('large', 'x'.repeat(bytes));
      return 0;
    } catch (err) {
      return (err as RpcError).code;
    }
  },
  async *feed(n, ctx) {
    ctx.setReplyMetadata('first', '1');
    try {
      for (let i = 1; i <= Math.abs(n); i++) yield i;
      if (n < 0) throw new Refused();
    } finally {
      ctx.setReplyMetadata('count', String(Math.abs(n)));
    }
  },
  async sum(items, ctx) {
    let sum = 0;
    for await (const n of items) {
      if (n < 0) {
        ctx.setReplyMetadata('refused', String(n));
        throw new Refused();
      }
      sum += n;
    }
    ctx.setReplyMetadata('sum', String(sum));
    return sum;
  },
  async *echo(items, ctx) {
    let count = 0;
    for await (const n of items) {
      if (n < 0) {
        ctx.setReplyMetadata('refused', String(n));
        throw new Refused();
      }
      count++;
      yield n;
    }
    ctx.setReplyMetadata('echoed', String(count));
  },
  async *kept(_arg, ctx) {
    keptCtx = ctx;
    ctx.setReplyMetadata('early', '1');
    yield 1;
  },
});

async function serveApi(clientTransport: Transport = transport, limits?: { maxMessage: number }, timeoutMs?: number) {
  const server = new RpcServer({ dispatch: createServiceDispatch({ codec, services: [impl] }) });
  const { address } = await listening(server, cleanup);
  const stream = await ClientStream.connect({ transport: clientTransport, address, keepaliveMs: 0, ...(limits && { limits }) });
  cleanup.push(() => stream.destroy());
  return createClient(Api, stream, { codec, timeoutMs });
}

/**
 * Calls `call` with an `onReplyMetadata` that records what it was told; returns that with the
 * call's outcome, and how many times it was told by the time the call settled.
 */
async function withReplyMetadata<T>(call: (onReplyMetadata: (md: Metadata) => void) => Promise<T>) {
  const told: Record<string, string>[] = [];
  const outcome = call((md) => told.push({ ...md })).then(
    (value) => ({ value, error: undefined, toldWhenSettled: told.length }),
    (error: unknown) => ({ value: undefined, error, toldWhenSettled: told.length }),
  );
  return { ...(await outcome), told };
}

describe('reply metadata', () => {
  it('is typed on both sides: a string entry set on the context, a metadata record told to the caller', () => {
    expectTypeOf<CallContext['setReplyMetadata']>().toEqualTypeOf<(key: string, value: string) => void>();
    expectTypeOf<MethodCallOptions['onReplyMetadata']>().toEqualTypeOf<((metadata: Metadata) => void) | undefined>();
  });

  it('a unary reply carries what its handler set, told by the time the call resolves', async () => {
    const api = await serveApi();
    const { value, told } = await withReplyMetadata((onReplyMetadata) => api.set({ session: 's-1', 'x-count': '2', 'ünï': 'çødé' }, { onReplyMetadata }));
    expect(value).toBe(3);
    expect(told).toEqual([{ session: 's-1', 'x-count': '2', 'ünï': 'çødé' }]);
    // A client with a default timeout sends options of its own per call: the option goes with them.
    const timed = await serveApi(transport, undefined, 5000);
    expect((await withReplyMetadata((onReplyMetadata) => timed.set({ a: 'b' }, { onReplyMetadata }))).told).toEqual([{ a: 'b' }]);
    // A call whose handler sets none is told an empty record; one without the option is not asked.
    expect((await withReplyMetadata((onReplyMetadata) => api.set({}, { onReplyMetadata }))).told).toEqual([{}]);
    await expect(api.set({ a: 'b' })).resolves.toBe(1);
  });

  it("an error reply carries it too: the method's own error, and the handler's refused entry", async () => {
    const api = await serveApi();
    const refused = await withReplyMetadata((onReplyMetadata) => api.refuse({ reason: 'quota', 'retry-after': '5' }, { onReplyMetadata }));
    expect(refused.error).toBeInstanceOf(Refused);
    expect(refused.told).toEqual([{ reason: 'quota', 'retry-after': '5' }]);
    // A key no head carries: InvalidArgument, thrown to the handler and on to the client (a built-in error), which is told the entries set before it.
    const bad = await withReplyMetadata((onReplyMetadata) => api.set({ before: '1', ['k'.repeat(256)]: 'v' }, { onReplyMetadata }));
    expect(bad.error).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringContaining('reply metadata') });
    expect(bad.told).toEqual([{ before: '1' }]);
  });

  it('an entry over the bound is refused with FrameTooLarge as it is set; the entries before it still go', async () => {
    const api = await serveApi();
    // 8 KiB, counted as a call head is: 4 bytes, then per entry its bytes and 32.
    const caught = await withReplyMetadata((onReplyMetadata) => api.tryLarge(8192, { onReplyMetadata }));
    expect(caught.value).toBe(ErrorCode.FrameTooLarge);
    expect(caught.told).toEqual([{ small: 'kept' }]);
    // Uncaught, it is the call's error.
    const uncaught = await withReplyMetadata((onReplyMetadata) => api.set({ big: 'x'.repeat(9000) }, { onReplyMetadata }));
    expect(uncaught.error).toBeInstanceOf(RpcError);
    expect(uncaught.error).toMatchObject({ code: ErrorCode.FrameTooLarge });
    expect(uncaught.told).toEqual([{}]);
    // Just under the bound goes: 4 + (1 + 5 + 2 + 4) + 32 for small, 4 + 32 + 1 + 5 + 2 for large, leaves this much for its value.
    const room = 8192 - 4 - (1 + 5 + 2 + 4 + 32) - (1 + 5 + 2 + 32);
    const fits = await withReplyMetadata((onReplyMetadata) => api.tryLarge(room, { onReplyMetadata }));
    expect(fits.value).toBe(0);
    expect(fits.told[0]!.large).toHaveLength(room);
    expect((await api.tryLarge(room + 1)) as number).toBe(ErrorCode.FrameTooLarge);
  });

  it("the bound is the client's reply limits where they are smaller than 8 KiB", async () => {
    const api = await serveApi(transport, { maxMessage: 2048 });
    expect(await api.tryLarge(2000)).toBe(ErrorCode.FrameTooLarge);
    expect(await api.tryLarge(1900)).toBe(0);
  });

  it('a client that did not agree it (an older Skein client) gets the plain reply, told nothing set', async () => {
    const api = await serveApi(olderSkeinClient(transport, REPLY_METADATA_KIND));
    const { value, told } = await withReplyMetadata((onReplyMetadata) => api.set({ session: 's-1' }, { onReplyMetadata }));
    expect(value).toBe(1);
    expect(told).toEqual([{}]);
    // Nothing of it is held to the bound either: dropped, never sent.
    expect(await api.tryLarge(100_000)).toBe(0);
  });

  it("a server stream's end carries it, ok or error (set in a generator's finally too), told before the loop ends or throws", async () => {
    const api = await serveApi();
    const ok = await readStream((onReplyMetadata) => api.feed(3, { onReplyMetadata }));
    expect(ok).toEqual({ items: [1, 2, 3], toldAtEnd: 1, error: undefined, told: [{ first: '1', count: '3' }] });
    const failed = await readStream((onReplyMetadata) => api.feed(-2, { onReplyMetadata }));
    expect(failed.error).toBeInstanceOf(Refused);
    expect(failed).toMatchObject({ items: [1, 2], toldAtEnd: 1, told: [{ first: '1', count: '2' }] });
  });

  it("a client stream's end carries it, told before the call settles, ok or error", async () => {
    const api = await serveApi();
    const ok = await withReplyMetadata((onReplyMetadata) => api.sum([1, 2, 3], { onReplyMetadata }));
    expect(ok).toEqual({ value: 6, error: undefined, toldWhenSettled: 1, told: [{ sum: '6' }] });
    const refused = await withReplyMetadata((onReplyMetadata) => api.sum([1, -4, 5], { onReplyMetadata }));
    expect(refused.error).toBeInstanceOf(Refused);
    expect(refused).toMatchObject({ toldWhenSettled: 1, told: [{ refused: '-4' }] });
  });

  it('a bidi stream carries it both ways of ending, told before the loop ends or throws', async () => {
    const api = await serveApi();
    const ok = await readStream((onReplyMetadata) => api.echo([1, 2, 3], { onReplyMetadata }));
    expect(ok).toEqual({ items: [1, 2, 3], toldAtEnd: 1, error: undefined, told: [{ echoed: '3' }] });
    const failed = await readStream((onReplyMetadata) => api.echo([1, 2, -1], { onReplyMetadata }));
    expect(failed.error).toBeInstanceOf(Refused);
    expect(failed).toMatchObject({ items: [1, 2], toldAtEnd: 1, told: [{ refused: '-1' }] });
  });

  it('an entry set once the stream ended is dropped unsaid; a client that did not agree it gets the plain end, told an empty record', async () => {
    const api = await serveApi();
    expect(await readStream((onReplyMetadata) => api.kept(undefined, { onReplyMetadata }))).toEqual({ items: [1], toldAtEnd: 1, error: undefined, told: [{ early: '1' }] });
    expect(() => keptCtx!.setReplyMetadata('late', '2')).not.toThrow();
    const older = await serveApi(olderSkeinClient(transport, REPLY_METADATA_KIND));
    expect(await readStream((onReplyMetadata) => older.feed(2, { onReplyMetadata }))).toEqual({ items: [1, 2], toldAtEnd: 1, error: undefined, told: [{}] });
    expect(await withReplyMetadata((onReplyMetadata) => older.sum([4, 5], { onReplyMetadata }))).toEqual({ value: 9, error: undefined, toldWhenSettled: 1, told: [{}] });
  });
});

/**
 * Reads the stream `open` gives, with an `onReplyMetadata` that records what it was told:
 * the items, what the loop threw, and how many times it was told by the time the loop ended.
 */
async function readStream(open: (onReplyMetadata: (md: Metadata) => void) => Promise<AsyncIterable<number>>) {
  const told: Record<string, string>[] = [];
  const items: number[] = [];
  let error: unknown;
  let toldAtEnd = -1;
  try {
    for await (const n of await open((md) => told.push({ ...md }))) items.push(n);
  } catch (e) {
    error = e;
  } finally {
    toldAtEnd = told.length;
  }
  return { items, toldAtEnd, error, told };
}
