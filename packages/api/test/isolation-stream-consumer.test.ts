import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger } from '@skein/core';
import { cleanups, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, implement, method, serverStream, service } from '../src/index.js';
import { serve } from './harness.js';

/*
 * One slow party never stalls the others, through the typed api: a server stream whose consumer
 * stops pulling holds its own generator (each yield waits for the client's room, README
 * "Streams"), never the typed calls or the other streams on the same connection. What decides is
 * the order of events: the others finish while the stalled generator is still held where its
 * window stopped it.
 */

const cleanup = cleanups();

/** Each item: 4 KiB of payload, so the default 1 MiB window holds about 250 of them. */
const PAYLOAD = 'x'.repeat(4096);
/** The client's receive window per stream (its default, `streamWindowBytes`). */
const WINDOW = 1024 * 1024;
/** Far past the window: a generator not held by it would get this far (and stop, so a mutant does not fill memory). */
const LIMIT = 5000;

const Feed = service('Feed', {
  items: serverStream<{ n: number }, string>(),
  add: method<{ a: number; b: number }, number>(),
});

describe('a typed server stream whose consumer stops pulling', () => {
  it('holds only its own generator, at its window: typed calls and another stream on the same connection go on', async () => {
    /** Yields per stream, in the order they opened. */
    const yielded: number[] = [];
    const s = await serve({
      codec: msgpackCodec,
      logger: silentLogger,
      services: [
        implement(Feed, {
          async *items({ n }) {
            const at = yielded.push(0) - 1;
            for (let i = 0; i < Math.min(n, LIMIT); i++) {
              yield PAYLOAD;
              yielded[at]!++;
            }
          },
          add: ({ a, b }) => a + b,
        }),
      ],
    });
    cleanup.push(() => s.close());
    const feed = createClient(Feed, s.stream, { codec: msgpackCodec });

    // Opened and never read: its generator yields until the window (1 MiB, each item costing a little over its payload) is spent.
    const unread = await feed.items({ n: LIMIT });
    const NEAR_WINDOW = Math.floor(WINDOW / (PAYLOAD.length + 64));
    await waitFor(() => (yielded[0] ?? 0) >= NEAR_WINDOW || undefined, { what: 'the unread stream near its window', timeoutMs: 15_000 });

    // Meanwhile, on the same connection: typed calls, and a second stream read to its end.
    expect(await Promise.all(Array.from({ length: 100 }, (_, i) => feed.add({ a: i, b: 1 })))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    let read = 0;
    for await (const item of await feed.items({ n: 2000 })) {
      expect(item).toBe(PAYLOAD);
      read++;
    }
    expect(read).toBe(2000);

    // The unread stream's generator is still held by the window (its worth and no more), its stream open: read now, it gives every item.
    expect(yielded[0]! * PAYLOAD.length).toBeLessThanOrEqual(WINDOW + PAYLOAD.length);
    let late = 0;
    for await (const item of unread) late += item.length;
    expect(late).toBe(LIMIT * PAYLOAD.length);
  });
});
