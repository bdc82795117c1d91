import { cleanups, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { RequestStream, ServerRequest } from '../src/index.js';
import { startServer } from './harness.js';

/*
 * One slow party never stalls the others, on one connection: a stream whose consumer stops
 * pulling holds only its own writer (its credit runs out, README "Streams"), never the plain
 * calls or the other streams that share its connection. What decides is the order of events:
 * the others finish while the stalled stream's writer is still held at its window.
 */

const cleanup = cleanups();

/** The client's receive window per stream, small so that the stalled writer is held soon. */
const WINDOW = 64 * 1024;
const ITEM = new Uint8Array(4096).fill(1);
/** Far past the window: a writer not held by credit would get this far (and stop, so a mutant does not fill memory). */
const WRITER_LIMIT = 4096;

interface Writer {
  /** Items the handler has written (their writes resolved). */
  written: number;
  /** The handler's last write is still waiting (neither resolved nor failed). */
  waiting: boolean;
  /** What a write failed with, if one did: the stream ended. */
  failed?: unknown;
  /** Its stream, to read its credit. */
  stream?: RequestStream;
}

/** A handler that writes items as long as it may: how far it got is what the client's credit allowed. */
function feed(w: Writer) {
  return async (req: ServerRequest) => {
    w.stream = req.stream;
    while (w.written < WRITER_LIMIT) {
      w.waiting = true;
      try {
        await req.stream!.write(ITEM);
      } catch (err) {
        w.failed = err;
        throw err;
      } finally {
        w.waiting = false;
      }
      w.written++;
    }
  };
}

describe('a stream whose consumer stops pulling', () => {
  it('holds only its own writer, at its window: calls and other streams on the same connection go on', async () => {
    const stalled: Writer = { written: 0, waiting: false };
    const other: Writer = { written: 0, waiting: false };
    let feeds = 0;
    const s = await startServer(
      {
        // The first stream opened is the stalled one's; every later one is the reader's.
        feed: (req) => (feeds++ === 0 ? feed(stalled)(req) : feed(other)(req)),
        echo: (req) => req.msg,
      },
      { closeWaitMs: 0 },
    );
    cleanup.push(() => s.server.close());
    const client = await s.connect({ streamWindowBytes: WINDOW });
    cleanup.push(() => client.destroy());
    await client.ping(); // the hello is answered: streams are agreed

    // Opened and never read.
    const unread = client.openStream('feed');
    // Held by its credit (spent), not by a send buffer that will drain: it stays where it is.
    await waitFor(() => (stalled.waiting && stalled.stream!.credit <= 0) || undefined, { what: 'the unread stream filled its window', timeoutMs: 15_000 });
    const heldAt = stalled.written;
    expect(stalled.failed).toBeUndefined();

    // Meanwhile, on the same connection: plain calls, and a second stream read to its end.
    const calls = await Promise.all(Array.from({ length: 200 }, (_, i) => client.call('echo', new Uint8Array([i & 0xff]))));
    expect(calls.map((r) => r.msg[0])).toEqual(Array.from({ length: 200 }, (_, i) => i & 0xff));
    let read = 0;
    const reader = client.openStream('feed');
    for await (const item of reader) {
      expect(item.msg.length).toBe(ITEM.length);
      read++;
    }
    await reader.result;
    expect(read).toBe(WRITER_LIMIT);

    // The unread stream's writer is still where its credit stopped it, its stream still open: its window and no more.
    expect(stalled.failed).toBeUndefined();
    expect(stalled.waiting).toBe(true);
    expect(stalled.written).toBe(heldAt);
    expect(stalled.written * ITEM.length).toBeLessThanOrEqual(WINDOW + ITEM.length);
    expect(unread.buffered).toBeLessThanOrEqual(WINDOW + 2 * ITEM.length);
    unread.cancel();
  }, 30_000);
});
