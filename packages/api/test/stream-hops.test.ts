import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { cleanups, deferred, portOf, within } from '@skein/test-utils';
import { ClientStream, RpcServer } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, serverStream, bidiStream, service, type CallContext, type Client } from '../src/index.js';
import { transport } from './harness.js';

// Streams through a hop that passes its ctx on: hop 0 opens a stream on hop 1, whose handler opens
// one on hop 2 with `{ ctx }` and relays it. Hop 0's break, cancel or deadline ends hop 2's
// handler too (its signal fires, its iteration ends), and the hop 2 stream's deadline is never
// past hop 0's.

const cleanup = cleanups();
const codec = msgpackCodec;
const Feed = service('Feed', { watch: serverStream<number, number>(), chat: bidiStream<number, number>() });

interface Hop2Seen {
  started: ReturnType<typeof deferred<{ remaining: number | undefined }>>;
  ended: ReturnType<typeof deferred<unknown>>;
}

async function serve(impl: Parameters<typeof implement<typeof Feed>>[1]): Promise<Client<typeof Feed>> {
  const server = new RpcServer({ dispatch: createServiceDispatch({ codec, logger: silentLogger, services: [implement(Feed, impl)] }), closeWaitMs: 0, logger: silentLogger });
  cleanup.push(() => server.close());
  const a = await server.listen(transport, '127.0.0.1:0');
  const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}`, logger: silentLogger });
  cleanup.push(() => stream.destroy());
  await stream.ping();
  return createClient(Feed, stream, { codec, logger: silentLogger });
}

/** Hop 2: counts up for ever, one item a turn, until its signal fires; says when it started and why it ended. */
async function hop2(): Promise<{ client: Client<typeof Feed>; seen: Hop2Seen }> {
  const seen: Hop2Seen = { started: deferred(), ended: deferred() };
  const forever = async function* (ctx: CallContext) {
    seen.started.resolve({ remaining: ctx.remainingMs() });
    try {
      for (let i = 0; ; i++) {
        if (ctx.signal.aborted) return;
        yield i;
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      seen.ended.resolve(ctx.signal.aborted ? (ctx.signal.reason as RpcError).codeName : 'not aborted');
    }
  };
  const client = await serve({
    watch: (_n: number, ctx: CallContext) => forever(ctx),
    async *chat(input: AsyncIterable<number>, ctx: CallContext) {
      void (async () => {
        for await (const _ of input);
      })().catch(() => {});
      yield* forever(ctx);
    },
  });
  return { client, seen };
}

/** Hop 1: relays hop 2's stream, opened with its own ctx. */
async function hop1(down: Client<typeof Feed>): Promise<Client<typeof Feed>> {
  return serve({
    async *watch(n: number, ctx: CallContext) {
      for await (const v of await down.watch(n, { ctx })) yield v;
    },
    async *chat(input: AsyncIterable<number>, ctx: CallContext) {
      for await (const v of await down.chat(input, { ctx })) yield v;
    },
  });
}

async function* nothingYet(stop: Promise<unknown>): AsyncIterable<number> {
  await stop;
}

describe('streams through a hop that passes its ctx on', () => {
  it("breaking off a server stream at hop 0 ends hop 2's handler", async () => {
    const { client: c2, seen } = await hop2();
    const c1 = await hop1(c2);
    let got = 0;
    for await (const _ of await c1.watch(0)) if (++got === 3) break;
    expect(await within(seen.ended.promise, 10_000, "hop 2's handler to end")).toBe('Cancelled');
  });

  it("a bidi stream's signal at hop 0 ends hop 2's handler", async () => {
    const { client: c2, seen } = await hop2();
    const c1 = await hop1(c2);
    const ac = new AbortController();
    const stop = deferred<void>();
    cleanup.push(() => stop.resolve());
    const it = (await c1.chat(nothingYet(stop.promise), { signal: ac.signal }))[Symbol.asyncIterator]();
    await it.next();
    ac.abort();
    expect(await within(seen.ended.promise, 10_000, "hop 2's handler to end")).toBe('Cancelled');
    const err = await it.next().then(() => undefined, (e: unknown) => e);
    expect((err as RpcError).code).toBe(ErrorCode.Cancelled);
  });

  it("a server stream's deadline at hop 0 reaches hop 2 no longer, and ends its handler", async () => {
    const { client: c2, seen } = await hop2();
    const c1 = await hop1(c2);
    const reading = (async () => {
      for await (const _ of await c1.watch(0, { timeoutMs: 1_000 }));
    })().catch((e: unknown) => e);
    const { remaining } = await within(seen.started.promise, 10_000, "hop 2's handler to start");
    expect(remaining).toBeLessThanOrEqual(1_000);
    const why = await within(seen.ended.promise, 10_000, "hop 2's handler to end");
    expect(['Timeout', 'Cancelled']).toContain(why);
    expect(((await reading) as RpcError).code).toBe(ErrorCode.Timeout);
  });
});
