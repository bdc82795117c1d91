import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { RpcServer } from '@skein/stream';
import { cleanups, deferred, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { Health, HealthReporter, clientStream, createClient, createServiceDispatch, healthService, implement, serverStream, service } from '../src/index.js';
import { STREAM_KIND_KEY } from '../src/stream-kind-entry.js';
import { listening } from './harness.js';

/*
 * A connection's `streamBudgetBytes` holds the windows of the streams whose handlers read items
 * (client and bidi streams): the service dispatch tells the server, from each method's own kind,
 * that a server stream's handler reads none (Dispatch.readsItems), so a server-streaming call or
 * a health watch opens however many uploads fill the budget.
 */

const cleanup = cleanups();

/** The server's window per stream, small so that four streams fill the budget at once. */
const WINDOW = 16 * 1024;

const Feed = service('Feed', {
  upload: clientStream<number, number>(),
  count: serverStream<{ to: number }, number>(),
});

const refusedSafe = (err: unknown): boolean => err instanceof RpcError && err.code === ErrorCode.Overloaded && err.retry === 'safe';

/** An upload of one item that stays open until `until`: one that ended would hold only its unread item of the budget, not its window. */
async function* openUpload(until: Promise<unknown>): AsyncGenerator<number> {
  yield 1;
  await until;
}

/** A server whose uploads keep their items unread until `gate`, at a budget of four windows, and a connection to it. */
async function budgetFull() {
  const gate = deferred();
  let uploads = 0;
  const reporter = new HealthReporter();
  const server = new RpcServer({
    closeWaitMs: 0,
    logger: silentLogger,
    streamWindowBytes: WINDOW,
    streamBudgetBytes: 4 * WINDOW,
    dispatch: createServiceDispatch({
      codec: msgpackCodec,
      logger: silentLogger,
      services: [
        implement(Feed, {
          async upload() {
            uploads++;
            await gate.promise;
            return 0;
          },
          async *count({ to }) {
            for (let i = 1; i <= to; i++) yield i;
          },
        }),
        healthService(reporter),
      ],
    }),
  });
  cleanup.push(() => gate.resolve());
  const stream = await (await listening(server, cleanup)).connect();
  const feed = createClient(Feed, stream, { codec: msgpackCodec });
  const health = createClient(Health, stream, { codec: msgpackCodec });
  // Four uploads hold the whole budget; a fifth is refused: the budget is full of streams that read.
  const held = Array.from({ length: 4 }, () => feed.upload(openUpload(gate.promise)).catch((err: unknown) => err));
  await waitFor(() => uploads === 4, { what: 'four uploads hold the budget' });
  expect(refusedSafe(await feed.upload([1]).catch((err: unknown) => err))).toBe(true);
  return { server, stream, feed, health, held, gate };
}

describe('a full stream budget', () => {
  it('still opens and completes a server-streaming call and a health watch: their handlers read no items', async () => {
    const { server, feed, health, held, gate } = await budgetFull();
    // Twice the budget's worth of each, one after another's end and all at once.
    for (let i = 0; i < 2; i++) {
      const got: number[] = [];
      for await (const v of await feed.count({ to: 3 })) got.push(v);
      expect(got).toEqual([1, 2, 3]);
    }
    const all = await Promise.all(Array.from({ length: 8 }, async () => {
      const got: number[] = [];
      for await (const v of await feed.count({ to: 2 })) got.push(v);
      return got;
    }));
    expect(all).toEqual(Array.from({ length: 8 }, () => [1, 2]));
    const watches = Array.from({ length: 8 }, () => new AbortController());
    for (const w of watches) {
      const it = (await health.watch({ service: '' }, { signal: w.signal }))[Symbol.asyncIterator]();
      expect((await it.next()).value).toEqual({ status: 'serving' });
    }
    for (const w of watches) w.abort();
    // Only the one upload past the budget was refused for it.
    expect(server.stats().streamsRefused).toBe(1);
    gate.resolve();
    expect(await Promise.all(held)).toEqual([0, 0, 0, 0]);
  });

  it("judges by the server's method, not the client's word: an upload opened as a server stream still reserves, and is refused", async () => {
    const { server, stream } = await budgetFull();
    // A client that claims its upload is a server stream (whose handler would read nothing) is not believed.
    const lying = stream.openStream('Feed.upload', undefined, { metadata: { [STREAM_KIND_KEY]: 'server' } });
    expect(refusedSafe(await lying.result.catch((err: unknown) => err))).toBe(true);
    expect(server.stats().streamsRefused).toBe(2);
  });
});
