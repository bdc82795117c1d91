import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, codeErrors, silentLogger } from '@skein/core';
import { ConnPool, FailoverPool } from '@skein/stream';
import { deferred, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bidiStream, clientStream, createClient, implement, serverStream, service, type CallInfo, type Filter } from '../src/index.js';
import { serve, transport } from './harness.js';

const cleanup = cleanups();

class TooMany extends Error {
  constructor(readonly limit = 0) {
    super(`more than ${limit}`);
  }
}
const tooMany = {
  is: (e: unknown): e is TooMany => e instanceof TooMany,
  encode: (e: TooMany) => msgpackCodec.encode(e.limit),
  decode: (p: number | Uint8Array) => new TooMany(typeof p === 'number' ? -1 : (msgpackCodec.decode(p) as number)),
};

const Feed = service('Feed', {
  count: serverStream({ input: z.object({ to: z.number().int().max(100) }), output: z.number() }).throws(tooMany),
  sum: clientStream({ input: z.number(), output: z.number() }).throws(codeErrors({ 7: TooMany })),
  echo: bidiStream<string, string>(),
});

/** The same service without schemas: what a client that checks nothing sends. */
const Unchecked = service('Feed', {
  count: serverStream<{ to: number }, number>(),
  sum: clientStream<unknown, number>(),
  echo: bidiStream<string, string>(),
});

interface Seen {
  handlerRuns: number;
  echoSignal: Promise<unknown>;
}

async function setup(filters: Filter[] = []) {
  const echoEnded = deferred<unknown>();
  const seen: Seen = { handlerRuns: 0, echoSignal: echoEnded.promise };
  const s = await serve({
    codec: msgpackCodec,
    logger: silentLogger,
    filters,
    services: [
      implement(Feed, {
        async *count({ to }) {
          seen.handlerRuns++;
          for (let i = 1; i <= to; i++) {
            if (i > 50) throw new TooMany(50);
            yield i === 42 && to === 42 ? (('forty-two' as unknown) as number) : i;
          }
        },
        async sum(values) {
          seen.handlerRuns++;
          let sum = 0;
          let n = 0;
          for await (const v of values) {
            if (++n > 3) throw new TooMany(3);
            sum += v;
          }
          return sum;
        },
        async *echo(values, ctx) {
          seen.handlerRuns++;
          // The cancel may be read in the same chunk as the opening, before this runs.
          if (ctx.signal.aborted) echoEnded.resolve(ctx.signal.reason);
          ctx.signal.addEventListener('abort', () => echoEnded.resolve(ctx.signal.reason));
          for await (const v of values) yield v;
        },
      }),
    ],
  });
  cleanup.push(() => s.close());
  return { s, seen, feed: createClient(Feed, s.stream, { codec: msgpackCodec }), unchecked: createClient(Unchecked, s.stream, { codec: msgpackCodec }) };
}

async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

const codeOf = (e: unknown): number | undefined => (e instanceof RpcError ? e.code : undefined);

describe('typed streams: schemas', () => {
  it('the opening argument is checked by the client and again by the server, before the handler runs', async () => {
    const { feed, unchecked, seen } = await setup();
    const mine = await feed.count({ to: 101 }).catch((e: unknown) => e);
    expect(codeOf(mine)).toBe(ErrorCode.InvalidArgument);
    const theirs = await drain(await unchecked.count({ to: 101 })).catch((e: unknown) => e);
    expect(codeOf(theirs)).toBe(ErrorCode.InvalidArgument);
    expect((theirs as RpcError).message).toMatch(/to/);
    expect(seen.handlerRuns).toBe(0);
    expect(await drain(await feed.count({ to: 3 }))).toEqual([1, 2, 3]);
  });

  it('items are checked: a server item that fails the schema fails the stream; a client item that does is refused on both sides', async () => {
    const { feed, unchecked } = await setup();
    const bad = await drain(await feed.count({ to: 42 })).catch((e: unknown) => e);
    expect(codeOf(bad)).toBe(ErrorCode.Internal); // the server's own check of what it sends
    async function* strings() {
      yield 'one';
    }
    const mine = await feed.sum(strings() as never).catch((e: unknown) => e);
    expect(codeOf(mine)).toBe(ErrorCode.InvalidArgument);
    const theirs = await unchecked.sum(strings()).catch((e: unknown) => e);
    expect(codeOf(theirs)).toBe(ErrorCode.InvalidArgument);
  });
});

describe("typed streams: the client's checks of the server's items", () => {
  type Ask = { n: number; bad?: number; negative?: number };
  const Items = service('Items', { list: serverStream<Ask, unknown>() });
  const ask = z.object({ n: z.number(), bad: z.number().optional(), negative: z.number().optional() });
  const Checked = service('Items', { list: serverStream({ input: ask, output: z.number() }) });
  // An asynchronous schema: each item is checked in a promise (zod's async refine).
  const AsyncChecked = service('Items', {
    list: serverStream({ input: ask, output: z.number().refine(async (v) => v >= 0, 'negative') }),
  });

  async function itemsServer() {
    const cancelled: unknown[] = [];
    const s = await serve({
      codec: msgpackCodec,
      logger: silentLogger,
      services: [
        implement(Items, {
          async *list({ n, bad, negative }, ctx) {
            ctx.signal.addEventListener('abort', () => cancelled.push(ctx.signal.reason));
            for (let i = 0; i < n; i++) yield i === bad ? 'not a number' : i === negative ? -1 : i;
            // Held open after its items: only the client's cancel ends it early.
            await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
          },
        }),
      ],
    });
    cleanup.push(() => s.close());
    return { s, cancelled };
  }

  it('items that pass, synchronously or not, come as they were sent', async () => {
    const { s } = await itemsServer();
    for (const def of [Checked, AsyncChecked]) {
      const client = createClient(def, s.stream, { codec: msgpackCodec, timeoutMs: 60_000 });
      const got: number[] = [];
      for await (const v of await client.list({ n: 5 })) {
        got.push(v);
        if (got.length === 5) break;
      }
      expect(got).toEqual([0, 1, 2, 3, 4]);
    }
  });

  it('an item that fails its schema, synchronously or not, fails the reading and cancels the stream on the server', async () => {
    const { s, cancelled } = await itemsServer();
    // The synchronous schema refuses a string; the asynchronous one, in its promise, a -1.
    for (const [def, which, expected] of [[Checked, { bad: 2 }, [0, 1]], [AsyncChecked, { negative: 1 }, [0]]] as const) {
      const client = createClient(def, s.stream, { codec: msgpackCodec, timeoutMs: 60_000 });
      const got: number[] = [];
      const err = await (async () => {
        for await (const v of await client.list({ n: 6, ...which })) got.push(v);
      })().catch((e: unknown) => e);
      expect(codeOf(err)).toBe(ErrorCode.Decode);
      expect(got).toEqual(expected);
    }
    await waitFor(() => cancelled.length === 2, { what: 'both handlers to be told the client cancelled' });
  });
});

describe("typed streams: the server's asynchronous check of its items", () => {
  // The server's definition checks each item it sends in a promise (zod's async refine); the client's checks nothing.
  const Sent = service('Sent', { list: serverStream({ input: z.object({ n: z.number() }), output: z.number().refine(async (v) => v >= 0, 'negative') }) });
  const Read = service('Sent', { list: serverStream<{ n: number }, unknown>() });

  it('an item goes once its check settles, as the schema returned it; one it refuses fails the stream after those before', async () => {
    const s = await serve({
      codec: msgpackCodec,
      logger: silentLogger,
      services: [
        implement(Sent, {
          async *list({ n }) {
            for (let i = 0; i < n; i++) yield i;
            yield -1;
          },
        }),
      ],
    });
    cleanup.push(() => s.close());
    const client = createClient(Read, s.stream, { codec: msgpackCodec, timeoutMs: 60_000 });
    const got: unknown[] = [];
    const err = await (async () => {
      for await (const v of await client.list({ n: 3 })) got.push(v);
    })().catch((e: unknown) => e);
    expect(got).toEqual([0, 1, 2]);
    expect(codeOf(err)).toBe(ErrorCode.Internal); // the server's own check of what it sends
  });
});

describe("typed streams: the client's asynchronous check of the items it sends", () => {
  // The client's definition checks each item it sends in a promise (zod's async refine) and
  // transforms it; the server's checks nothing and keeps what arrives.
  const Sending = service('Sent', {
    sum: clientStream({ input: z.number().refine(async (v) => v >= 0, 'negative').transform((v) => v * 10), output: z.number() }),
    echo: bidiStream({ input: z.number().refine(async (v) => v >= 0, 'negative').transform((v) => v * 10), output: z.number() }),
  });
  const Receiving = service('Sent', { sum: clientStream<unknown, number>(), echo: bidiStream<unknown, number>() });

  async function setupSent() {
    const arrived: unknown[] = [];
    const s = await serve({
      codec: msgpackCodec,
      logger: silentLogger,
      services: [
        implement(Receiving, {
          async sum(values) {
            for await (const v of values) arrived.push(v);
            return arrived.length;
          },
          async *echo(values) {
            for await (const v of values) yield v as number;
          },
        }),
      ],
    });
    cleanup.push(() => s.close());
    return { arrived, client: createClient(Sending, s.stream, { codec: msgpackCodec, timeoutMs: 60_000 }) };
  }

  it('a client stream sends each item once its check settles, as the schema returned it; one it refuses fails the call', async () => {
    const { arrived, client } = await setupSent();
    expect(await client.sum([1, 2, 3])).toBe(3);
    expect(arrived).toEqual([10, 20, 30]);
    const err = await client.sum([4, -1, 5]).catch((e: unknown) => e);
    expect(codeOf(err)).toBe(ErrorCode.InvalidArgument);
    expect((err as Error).message).toContain('negative');
  });

  it('a bidi stream sends each item once its check settles, as the schema returned it', async () => {
    const { client } = await setupSent();
    const got: number[] = [];
    for await (const v of await client.echo([1, 2, 3])) got.push(v);
    expect(got).toEqual([10, 20, 30]);
  });
});

describe('typed streams: errors', () => {
  it('a custom error thrown mid-stream reaches the reader as its own class', async () => {
    const { feed } = await setup();
    const got: number[] = [];
    const err = await (async () => {
      for await (const v of await feed.count({ to: 60 })) got.push(v);
    })().catch((e: unknown) => e);
    expect(got.length).toBe(50);
    expect(err).toBeInstanceOf(TooMany);
    expect((err as TooMany).limit).toBe(50);
  });

  it('a client stream\'s custom error reaches its result as its own class', async () => {
    const { feed } = await setup();
    async function* many() {
      for (let i = 0; i < 10; i++) yield i;
    }
    const r = await feed.sum.result(many());
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toBeInstanceOf(TooMany);
  });

  it('a client source that throws: the caller sees its own error, and the server\'s signal fires', async () => {
    const { feed, seen } = await setup();
    class SourceBroke extends Error {}
    async function* source() {
      yield 'a';
      await new Promise((r) => setTimeout(r, 0));
      throw new SourceBroke('disk gone');
    }
    const err = await drain(await feed.echo(source())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceBroke);
    expect(codeOf(await seen.echoSignal)).toBe(ErrorCode.Cancelled);
  });
});

describe('typed streams: filters', () => {
  it('client and server filters see a stream\'s opening; a server filter that refuses stops it before the handler', async () => {
    // Each side's own order: which side logs first is not what this test is about.
    const calls: string[] = [];
    const clientCalls: string[] = [];
    const server: Filter = {
      before(info: CallInfo) {
        calls.push(`server before ${info.action} ${JSON.stringify(info.arg ?? null)}`);
        if (info.method === 'count' && (info.arg as { to: number }).to === 13) throw new RpcError(ErrorCode.PermissionDenied, 'unlucky');
      },
      after: (info, outcome) => void calls.push(`server after ${info.action} ${outcome.ok}`),
    };
    const { s, seen } = await setup([server]);
    const client: Filter = {
      before: (info) => void clientCalls.push(`client before ${info.action}`),
      after: (info, outcome) => void clientCalls.push(`client after ${info.action} ${outcome.ok}`),
    };
    const feed = createClient(Feed, s.stream, { codec: msgpackCodec, filters: [client] });
    expect(await drain(await feed.count({ to: 2 }))).toEqual([1, 2]);
    const refused = await drain(await feed.count({ to: 13 })).catch((e: unknown) => e);
    expect(codeOf(refused)).toBe(ErrorCode.PermissionDenied);
    expect(seen.handlerRuns).toBe(1);
    // The server's refusal comes after the stream is open: the client filter saw an opening.
    expect(clientCalls).toEqual(['client before Feed.count', 'client after Feed.count true', 'client before Feed.count', 'client after Feed.count true']);
    // A filter whose `before` refused sees no `after`.
    expect(calls).toEqual(['server before Feed.count {"to":2}', 'server after Feed.count true', 'server before Feed.count {"to":13}']);
  });
});

describe('typed streams: a call answered while a server filter awaits', () => {
  it('starts no handler once the before settles', async () => {
    const entered = deferred<void>();
    const gate = deferred<void>();
    const outcomes: string[] = [];
    const slow: Filter = {
      before: () => (entered.resolve(), gate.promise),
      after: (_info, outcome) => void outcomes.push(outcome.ok ? 'ok' : (outcome.error as RpcError).codeName),
    };
    const { s, seen, feed } = await setup([slow]);
    await s.stream.ping(); // the hello is answered: the stream can be cancelled
    const ac = new AbortController();
    const opened = feed.count({ to: 3 }, { signal: ac.signal }).then(drain);
    await entered.promise;
    ac.abort();
    expect(codeOf(await opened.catch((e: unknown) => e))).toBe(ErrorCode.Cancelled);
    await s.stream.ping(); // answered after the cancel frame before it: the server has read it
    gate.resolve();
    await waitFor(() => outcomes.length === 1, { what: "the filter's after" });
    expect(seen.handlerRuns).toBe(0);
    expect(outcomes).toEqual(['Cancelled']);
  });
});

describe('typed streams over pools', () => {
  it('a typed client over a ConnPool or a FailoverPool streams', async () => {
    const { s } = await setup();
    const conn = new ConnPool({ transport, address: s.address });
    const failover = new FailoverPool({ transport, servers: [s.address] });
    cleanup.push(() => conn.close(), () => failover.close());
    for (const caller of [conn, failover]) {
      const feed = createClient(Feed, caller, { codec: msgpackCodec });
      expect(await drain(await feed.count({ to: 5 }))).toEqual([1, 2, 3, 4, 5]);
      async function* three() {
        yield* [1, 2, 3];
      }
      expect(await feed.sum(three())).toBe(6);
    }
  });
});

describe('typed streams: a client source that waits when its stream ends', () => {
  // An event source (`events.on(socket, 'data')`) yields when something happens, maybe never
  // again: a stream over (cancelled, timed out, refused) must let it go now, not at its next value.
  it('is returned (its listeners removed) once the stream is cancelled, the server refuses it, or the handler answers early', async () => {
    const { feed } = await setup();
    const sources: { returned: boolean }[] = [];
    /** Yields `first`, then waits for a value that never comes. */
    const idleAfter = (first: number[]): AsyncIterable<number> => {
      const state = { returned: false };
      sources.push(state);
      let i = 0;
      return {
        [Symbol.asyncIterator]: () => ({
          next: () => (i < first.length ? Promise.resolve({ value: first[i++]!, done: false }) : new Promise<IteratorResult<number>>(() => {})),
          return: () => ((state.returned = true), Promise.resolve({ value: undefined, done: true as const })),
        }),
      };
    };
    const ac = new AbortController();
    const cancelled = feed.sum(idleAfter([1]), { signal: ac.signal }).catch(codeOf);
    await waitFor(() => sources[0] !== undefined);
    ac.abort();
    // Refused by the server's schema: its first value is no number.
    const refused = feed.sum(idleAfter(['x' as unknown as number])).catch(codeOf);
    // The handler stops reading after three values and answers TooMany.
    const early = feed.sum(idleAfter([1, 2, 3, 4])).catch((e: unknown) => (e instanceof TooMany ? 'TooMany' : e));
    expect([await cancelled, await refused, await early]).toEqual([ErrorCode.Cancelled, ErrorCode.InvalidArgument, 'TooMany']);
    await waitFor(() => sources.every((s) => s.returned), { what: 'every source returned' });
  });
});

describe('typed streams: a handler source that waits when its stream ends', () => {
  const Watch = service('Watch', { events: serverStream<void, number>() });

  /** A Watch server whose handler returns an event source that yields one value, then waits; and the sources handed out. */
  async function watchServer(streamTimeoutMs?: number) {
    const handed: { returned: boolean }[] = [];
    const s = await serve({
      codec: msgpackCodec,
      logger: silentLogger,
      streamTimeoutMs,
      services: [
        implement(Watch, {
          // Not a generator: an event source (`events.on(bus, 'event')`, mapped), which yields one value, then waits.
          events: () => {
            const state = { returned: false };
            handed.push(state);
            let sent = false;
            return {
              [Symbol.asyncIterator]: () => ({
                next: () => (sent ? new Promise<IteratorResult<number>>(() => {}) : ((sent = true), Promise.resolve({ value: 1, done: false }))),
                return: () => ((state.returned = true), Promise.resolve({ value: undefined, done: true as const })),
              }),
            };
          },
        }),
      ],
    });
    cleanup.push(() => s.close());
    await s.stream.ping(); // the hello is answered: the break travels as a cancel
    return { s, handed, watch: createClient(Watch, s.stream, { codec: msgpackCodec }) };
  }

  it('is returned once the client breaks off, though it never yields again', async () => {
    const { s, handed, watch } = await watchServer();
    for (let i = 0; i < 3; i++) {
      for await (const v of await watch.events()) {
        expect(v).toBe(1);
        break;
      }
    }
    await waitFor(() => handed.length === 3 && handed.every((h) => h.returned), { what: "every handler's source returned" });
    await waitFor(() => s.server.stats().inFlight === 0, { what: 'the server to let go of the streams' });
  });

  it('is returned once the stream timeout ends the stream', async () => {
    const { handed, watch } = await watchServer(1);
    const items: number[] = [];
    const err = await (async () => {
      for await (const v of await watch.events()) items.push(v);
    })().catch(codeOf);
    expect(err).toBe(ErrorCode.Timeout);
    await waitFor(() => handed.length === 1 && handed[0]!.returned, { what: "the handler's source returned" });
  });
});
