import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@skein/core';
import { waitFor, cleanups } from '@skein/test-utils';
import type { ItemObserver } from '../src/index.js';
import { itemCost } from '../src/wire/extension-frames.js';
import { memoryLogger, startServer } from './harness.js';

const cleanup = cleanups();

/** An observer that counts: items and their bytes, each way. */
function counting() {
  const seen = { received: 0, receivedBytes: 0, sent: 0, sentBytes: 0 };
  const observer: ItemObserver = {
    received: (bytes) => void ((seen.received += 1), (seen.receivedBytes += bytes)),
    sent: (bytes) => void ((seen.sent += 1), (seen.sentBytes += bytes)),
  };
  return { seen, observer };
}

const WINDOW = 4096;
const ITEMS = 3000;
/** 4 bytes (its number), every third with a 2-byte blob, every fifth with a blob only, item 7 empty. */
const msgOf = (i: number) => (i % 5 === 4 || i === 7 ? new Uint8Array(0) : new Uint8Array(new Uint32Array([i]).buffer));
const blobOf = (i: number) => (i === 7 ? new Uint8Array(0) : i % 3 === 0 || i % 5 === 4 ? new Uint8Array([i & 0xff, 0xbb]) : new Uint8Array(0));
const bytesOf = (i: number) => msgOf(i).length + blobOf(i).length;
const total = (n: number) => Array.from({ length: n }, (_, i) => bytesOf(i)).reduce((a, b) => a + b, 0);
const costOf = (n: number) => Array.from({ length: n }, (_, i) => itemCost(msgOf(i), blobOf(i))).reduce((a, b) => a + b, 0);

/**
 * `observe()` on either end of a stream tells of every item each way, with its msg and blob bytes:
 * small items the reader has not read yet (packed, Inbox.pushFrom) count when they are taken, not
 * when read; blobs count; an item not sent (a write after end()) does not.
 */
describe("a stream's item observer", () => {
  it("tells a client of the server's items as they are taken, packed ones too, and the server of its own as they go", async () => {
    const server = counting();
    const s = await startServer(
      {
        feed: async (req) => {
          req.stream!.observe(server.observer);
          for (let i = 0; i < ITEMS; i++) await req.stream!.write(msgOf(i), blobOf(i));
          req.reply(new Uint8Array([1, 2, 3]));
        },
      },
      { closeWaitMs: 0 },
    );
    cleanup.push(() => s.server.close());
    const client = await s.connect({ keepaliveMs: 0, streamWindowBytes: WINDOW });
    cleanup.push(() => client.destroy());
    const st = client.openStream('feed');
    const first = counting();
    const second = counting();
    st.observe(first.observer);
    st.observe(second.observer);
    // Unread, the window fills, all of it packed: each item counted as it was taken.
    await waitFor(() => st.buffered > WINDOW - (6 + 16) || undefined, { what: 'the window filled' });
    expect(first.seen.received).toBeGreaterThan(100);
    expect(first.seen.receivedBytes).toBe(total(first.seen.received));
    expect(st.buffered).toBe(costOf(first.seen.received));
    let read = 0;
    for await (const _ of st) read++;
    expect(read).toBe(ITEMS);
    // The answer's last value is no item.
    expect([...(await st.result).msg]).toEqual([1, 2, 3]);
    const all = { received: ITEMS, receivedBytes: total(ITEMS), sent: 0, sentBytes: 0 };
    expect(first.seen).toEqual(all);
    expect(second.seen).toEqual(all);
    expect(server.seen).toEqual({ received: 0, receivedBytes: 0, sent: ITEMS, sentBytes: total(ITEMS) });
  }, 30_000);

  it("tells a server of the client's items, packed while its handler does not read, up to the client's end", async () => {
    const N = 200;
    const server = counting();
    let beforeReading = -1;
    const s = await startServer(
      {
        sink: async (req) => {
          const stream = req.stream!;
          stream.observe(server.observer);
          // Not read until every item arrived: they wait packed.
          await waitFor(() => stream.buffered === costOf(N) || undefined, { what: 'every item arrived' });
          beforeReading = server.seen.received;
          let n = 0;
          for await (const _ of stream) n++;
          req.reply(new Uint8Array([n]));
        },
      },
      { closeWaitMs: 0 },
    );
    cleanup.push(() => s.server.close());
    const client = await s.connect({ keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const st = client.openStream('sink');
    const mine = counting();
    st.observe(mine.observer);
    for (let i = 0; i < N; i++) await st.write(msgOf(i), blobOf(i));
    st.end();
    await expect(st.write(new Uint8Array([9]))).rejects.toMatchObject({ code: ErrorCode.Closed });
    expect([...(await st.result).msg]).toEqual([N]);
    expect(beforeReading).toBe(N);
    expect(server.seen).toEqual({ received: N, receivedBytes: total(N), sent: 0, sentBytes: 0 });
    expect(mine.seen).toEqual({ received: 0, receivedBytes: 0, sent: N, sentBytes: total(N) });
  });
});

/**
 * An observer is a library author's code, told inside the connection's frame handling: its bug
 * must stay with the stream it watches, never close the connection under every other stream
 * and call on it (the doc says "never throw"; a tracing library's slip must not take down its
 * users' other streams).
 */
describe('an item observer that throws', () => {
  let throws = 0;
  const broken: ItemObserver = {
    received: () => {
      throws++;
      throw new Error('observer bug');
    },
    sent: () => {
      throws++;
      throw new Error('observer bug');
    },
  };

  it("on a client's stream leaves the connection, its other streams and calls, and the stream's own items alone", async () => {
    const s = await startServer(
      {
        feed: async (req) => {
          for (let i = 0; i < 5; i++) await req.stream!.write(new Uint8Array([i]));
          req.reply(new Uint8Array([9]));
        },
        sink: async (req) => {
          let n = 0;
          for await (const _ of req.stream!) n++;
          req.reply(new Uint8Array([n]));
        },
        echo: (req) => req.msg,
      },
      { closeWaitMs: 0 },
    );
    cleanup.push(() => s.server.close());
    const log = memoryLogger();
    const client = await s.connect({ keepaliveMs: 0, logger: log });
    cleanup.push(() => client.destroy());
    const other = client.openStream('sink');
    const watched = client.openStream('feed');
    throws = 0;
    watched.observe(broken);
    const after = counting();
    watched.observe(after.observer);
    const got: number[] = [];
    for await (const item of watched) got.push(item.msg[0]!);
    expect(got).toEqual([0, 1, 2, 3, 4]);
    // Dropped at its first throw; the one after it is still told of every item.
    expect(throws).toBe(1);
    expect(after.seen.received).toBe(5);
    expect([...(await watched.result).msg]).toEqual([9]);
    // Its own writes go, and resolve, as without it.
    const sinking = client.openStream('sink');
    sinking.observe(broken);
    await sinking.write(new Uint8Array([1]));
    await sinking.write(new Uint8Array([2]));
    sinking.end();
    expect([...(await sinking.result).msg]).toEqual([2]);
    await other.write(new Uint8Array([1]));
    other.end();
    expect([...(await other.result).msg]).toEqual([1]);
    expect([...(await client.call('echo', new Uint8Array([7]))).msg]).toEqual([7]);
    // Said once per observer dropped, with its error: two streams, two lines.
    expect(droppedLines(log.lines)).toEqual(['observer bug', 'observer bug']);
  });

  it("on a server's stream leaves the client's connection and its other streams alone", async () => {
    const log = memoryLogger();
    const s = await startServer(
      {
        watched: async (req) => {
          req.stream!.observe(broken);
          let n = 0;
          for await (const _ of req.stream!) n++;
          await req.stream!.write(new Uint8Array([n]));
          req.reply(new Uint8Array([n]));
        },
        sink: async (req) => {
          let n = 0;
          for await (const _ of req.stream!) n++;
          req.reply(new Uint8Array([n]));
        },
      },
      { closeWaitMs: 0, logger: log },
    );
    cleanup.push(() => s.server.close());
    const client = await s.connect({ keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const other = client.openStream('sink');
    const watched = client.openStream('watched');
    await watched.write(new Uint8Array([1]));
    await watched.write(new Uint8Array([2]));
    watched.end();
    const items: number[] = [];
    for await (const item of watched) items.push(item.msg[0]!);
    expect(items).toEqual([2]);
    expect([...(await watched.result).msg]).toEqual([2]);
    await other.write(new Uint8Array([1]));
    other.end();
    expect([...(await other.result).msg]).toEqual([1]);
    expect(droppedLines(log.lines)).toEqual(['observer bug']);
  });
});

/** The errors of the warn lines that say an observer was dropped. */
function droppedLines(lines: { level: string; obj: Record<string, unknown>; msg?: string }[]): string[] {
  return lines.filter((l) => l.level === 'warn' && l.msg?.includes('observer threw')).map((l) => (l.obj.err as Error).message);
}
