import { describe, expect, it } from 'vitest';
import { waitFor, cleanups } from '@skein/test-utils';
import { ITEM_OVERHEAD } from '../src/wire/extension-frames.js';
import { startServer } from './harness.js';

const cleanup = cleanups();

const WINDOW = 4096;
/** Items of 4 bytes (their number), every third with a 2-byte blob: many windows' worth. */
const ITEMS = 5000;
const msgOf = (i: number) => new Uint8Array(new Uint32Array([i]).buffer);
const blobOf = (i: number) => (i % 3 === 0 ? new Uint8Array([i & 0xff, 0xbb]) : new Uint8Array(0));
const numberOf = (msg: Uint8Array) => new DataView(msg.buffer, msg.byteOffset, msg.byteLength).getUint32(0, true);

/**
 * A client's small unread items wait packed (Inbox.pushFrom), those read while the reader waits
 * do not: a server streaming many windows of small items to a client that reads only once its
 * window is full, then reads on (some packed, some handed straight to the waiting reader), gets
 * every item once, in order, msg and blob as sent, and the server is granted credit back as
 * packed items are read (else it would stall for good at one window).
 */
describe("a client's packed stream items", () => {
  it('are read in order, with their blobs, across the packed and the waiting reader, and credit flows back', async () => {
    const s = await startServer(
      {
        feed: async (req) => {
          for (let i = 0; i < ITEMS; i++) await req.stream!.write(msgOf(i), blobOf(i));
          req.reply(new Uint8Array([1]));
        },
      },
      { closeWaitMs: 0 },
    );
    cleanup.push(() => s.server.close());
    const client = await s.connect({ keepaliveMs: 0, streamWindowBytes: WINDOW });
    cleanup.push(() => client.destroy());
    await client.ping();
    const st = client.openStream('feed');
    // Unread: the window fills, all of it packed.
    await waitFor(() => st.buffered > WINDOW - (4 + 2 + ITEM_OVERHEAD) || undefined, { what: 'the window filled' });
    const got: number[] = [];
    let badBlob = -1;
    for await (const item of st) {
      const n = numberOf(item.msg);
      if (badBlob < 0 && [...item.blob].join() !== [...blobOf(n)].join()) badBlob = n;
      got.push(n);
      // A slow reader now and then: more wait packed behind the ones read.
      if (got.length % 500 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(got.length).toBe(ITEMS);
    expect(got.every((n, i) => n === i)).toBe(true);
    expect(badBlob).toBe(-1);
    expect([...(await st.result).msg]).toEqual([1]);
    expect(st.buffered).toBe(0);
  }, 30_000);
});
