import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, deferred, type Deferred } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { Reply } from '../src/client/call.js';
import type { ServerRequest, StreamCall } from '../src/index.js';
import { Inbox } from '../src/internals/inbox.js';
import { ITEM_OVERHEAD, itemCost } from '../src/wire/extension-frames.js';
import { readU32, startServer, u32 } from './harness.js';

/*
 * A stream whose client sent END takes no more items: of its connection's `streamBudgetBytes` it
 * holds only what waits unread, and less as its handler reads (stream-budget.ts). So handlers
 * that read finished uploads slowly do not refuse new streams for windows no item can fill.
 * What decides each test is whether a stream opens or is refused after frames the server read in
 * order (a ping's answer comes after everything sent before it); never how long anything took.
 */

const cleanup = cleanups();

const WINDOW = 16 * 1024;
/**
 * Five windows: the four uploads' packing buffers, at least half full at their END, are held as
 * they are (slack and all: `Inbox.fitPacked`), so they hold more than their 32 KiB unread, and
 * less than two windows.
 */
const BUDGET = 5 * WINDOW;
/** An item of 1 KiB of credit. */
const ITEM = new Uint8Array(1024 - ITEM_OVERHEAD).fill(3);

const refusedSafe = (err: unknown): boolean => err instanceof RpcError && err.code === ErrorCode.Overloaded && err.retry === 'safe';

async function upload(s: StreamCall, items: number): Promise<void> {
  for (let i = 0; i < items; i++) await s.write(ITEM);
  s.end();
}

/** `slow` handlers read nothing until their own gate opens, then read to the end and wait on `hold` before answering with their count. */
async function slowReaders() {
  const gates: Deferred<void>[] = [];
  const read: number[] = [];
  const ended: Deferred<void>[] = [];
  const hold = deferred<void>();
  const requests: ServerRequest[] = [];
  const s = await startServer(
    {
      slow: async (req) => {
        const i = requests.push(req) - 1;
        await gates[i]!.promise;
        read[i] = 0;
        for await (const _ of req.stream!) read[i]!++;
        ended[i]!.resolve();
        await hold.promise;
        return u32(read[i]!);
      },
    },
    { closeWaitMs: 0, streamWindowBytes: WINDOW, streamBudgetBytes: BUDGET },
  );
  for (let i = 0; i < 16; i++) (gates.push(deferred<void>()), ended.push(deferred<void>()));
  cleanup.push(() => (hold.resolve(), gates.forEach((g) => g.resolve()), s.server.close()));
  const client = await s.connect({ keepaliveMs: 0 });
  cleanup.push(() => client.destroy());
  await client.ping();
  return { server: s.server, client, gates, ended, hold, requests };
}

describe('streamBudgetBytes after a stream\'s END', () => {
  it('holds only what waits unread: new streams open beside finished uploads not read yet, and a read one frees the rest', async () => {
    const { server, client, gates, ended, hold, requests } = await slowReaders();
    // Four uploads of half a window each, ended: their windows would leave room for one more.
    const uploads = Array.from({ length: 4 }, () => client.openStream('slow'));
    await Promise.all(uploads.map((s) => upload(s, 8)));
    // Every item and END before this ping was read before its answer.
    await client.ping();
    expect(requests).toHaveLength(4);
    expect(requests.map((r) => r.stream!.buffered)).toEqual([8 * 1024, 8 * 1024, 8 * 1024, 8 * 1024]);
    // They hold 32 KiB unread (in buffers of about 40 KiB): two whole windows fit beside them, a third does not.
    const more = Array.from({ length: 3 }, () => client.openStream('slow'));
    // The server's word on each, read before its answer to this ping: two admitted, the third
    // refused (a third admitted, the uploads holding less than their buffers, would run and never end).
    await client.ping();
    expect(requests).toHaveLength(6);
    expect(server.stats().streamsRefused).toBe(1);
    expect(refusedSafe(await more[2]!.result.catch((err: unknown) => err))).toBe(true);
    // The first two uploads' handlers read them whole (not answered yet): what they held, a window's worth, is free.
    gates[0]!.resolve();
    gates[1]!.resolve();
    await Promise.all([ended[0]!.promise, ended[1]!.promise]);
    const late = client.openStream('slow');
    await upload(late, 4);
    await client.ping();
    expect(requests).toHaveLength(7);
    expect(server.stats().streamsRefused).toBe(1);
    // Every upload is read whole, in its own time.
    for (const g of gates) g.resolve();
    hold.resolve();
    await Promise.all(more.slice(0, 2).map((s) => upload(s, 16)));
    const counts = await Promise.all([...uploads, ...more.slice(0, 2), late].map(async (s) => readU32((await s.result).msg)));
    expect(counts).toEqual([8, 8, 8, 8, 16, 16, 4]);
    expect(client.state).toBe('open');
  });
});

describe('Inbox: an item for a stream that keeps none', () => {
  /** A received chunk that says whether any part of it was copied out (`slice`). */
  class Chunk extends Uint8Array {
    copies = 0;
    override slice(start?: number, end?: number): Uint8Array<ArrayBuffer> {
      this.copies++;
      return super.slice(start, end);
    }
  }

  it('is dropped without a copy, its credit still counted (past it, refused as before)', () => {
    const window = 4 * 1024;
    const inbox = new Inbox((r: Reply) => itemCost(r.msg, r.blob), window, () => {});
    inbox.discard(() => new RpcError(ErrorCode.InvalidArgument, 'reads no items'));
    const chunk = new Chunk(8 * 1024);
    // Small items, which an inbox that keeps them copies out of their chunk.
    for (let i = 0; i < 4; i++) expect(inbox.pushFrom(chunk, i * 1024, i * 1024 + 900, i * 1024 + 1000)).toBe(true);
    expect(chunk.copies).toBe(0);
    expect(inbox.buffered).toBe(0);
    // 4 × 1032 bytes of credit spent: the window is overdrawn, and one more is past the sender's credit.
    expect(inbox.pushFrom(chunk, 0, 10, 10)).toBe(false);
  });
});
