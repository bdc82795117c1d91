import { describe, expect, it } from 'vitest';
import type { Reply } from '../src/client/call.js';
import { Inbox } from '../src/internals/inbox.js';
import { ITEM_OVERHEAD, itemCost } from '../src/wire/extension-frames.js';

/*
 * After a client's END a stream reserves of its connection's budget what its inbox may still
 * hold (`Inbox.bound`). Small items wait packed in one shared buffer, which reading a few of them
 * does not shrink: the bound counts that buffer whole while any of it is unread, and the unread
 * part moves into a buffer of its size at the END and again once reads leave it less than half
 * full, so that reads free memory as they free the reservation. Decided by what the inbox holds
 * after each read; no time.
 */

const KiB = 1024;
const WINDOW = 64 * KiB;

/** A server's stream's inbox of `WINDOW` (told when it shrinks, as a budget's stream is), or a client's (`client`: not told). */
const serverInbox = (client = false) => new Inbox((r: Reply) => itemCost(r.msg, r.blob), WINDOW, () => {}, WINDOW, client ? undefined : () => {});

/** `inbox` filled with `n` small items of 1 KiB of credit each, as a connection's chunks bring them. */
function filled(inbox: Inbox, n: number): Inbox {
  const size = KiB - ITEM_OVERHEAD;
  const chunk = new Uint8Array(size * n).fill(7);
  for (let i = 0; i < n; i++) expect(inbox.pushFrom(chunk, i * size, i * size + 10, (i + 1) * size)).toBe(true);
  return inbox;
}

/** A server's inbox filled with `n` items, then ended. */
function filledAndEnded(n: number): Inbox {
  const inbox = filled(serverInbox(), n);
  inbox.end();
  return inbox;
}

describe("Inbox after its sender's END: small items packed in one buffer", () => {
  it('never bounds below the packed bytes it holds, and frees them as they are read', async () => {
    const inbox = filledAndEnded(64);
    expect(inbox.buffered).toBe(64 * KiB);
    expect(inbox.bound).toBeGreaterThanOrEqual(inbox.packedBytes);
    for (let read = 1; read <= 63; read++) {
      await inbox.next();
      // What the stream reserves (bound) covers what it really holds, at every read.
      expect(inbox.bound).toBeGreaterThanOrEqual(inbox.packedBytes);
      // And falls with the reads: at most twice the unread (a buffer at least half full).
      expect(inbox.bound).toBeLessThanOrEqual(2 * inbox.buffered);
    }
    // One item of 1 KiB unread: the reviewer's case held the whole 64 KiB buffer for it.
    expect(inbox.buffered).toBe(KiB);
    expect(inbox.packedBytes).toBeLessThanOrEqual(KiB);
    await inbox.next();
    expect(inbox.packedBytes).toBe(0);
    expect(inbox.bound).toBe(0);
    expect((await inbox.next()).done).toBe(true);
  });

  it('at the END itself: a buffer read mostly empty before it is fitted to what is unread', async () => {
    const inbox = serverInbox();
    const size = KiB - ITEM_OVERHEAD;
    const chunk = new Uint8Array(size * 48).fill(9);
    for (let i = 0; i < 48; i++) inbox.pushFrom(chunk, i * size, i * size + 10, (i + 1) * size);
    for (let i = 0; i < 44; i++) await inbox.next();
    inbox.end();
    expect(inbox.buffered).toBe(4 * KiB);
    expect(inbox.bound).toBeGreaterThanOrEqual(inbox.packedBytes);
    expect(inbox.packedBytes).toBeLessThanOrEqual(4 * KiB);
  });

  it('at the END, a buffer at least half full stays as it is: no copy of a window to free a little slack', () => {
    const inbox = filled(serverInbox(), 48);
    const before = inbox.packedBytes;
    expect(inbox.buffered * 2).toBeGreaterThanOrEqual(before);
    expect(inbox.buffered).toBeLessThan(before);
    inbox.end();
    // The same buffer, slack and all, and the reservation counts it.
    expect(inbox.packedBytes).toBe(before);
    expect(inbox.bound).toBeGreaterThanOrEqual(inbox.packedBytes);
  });

  it("a client's inbox (no budget holds it) is not fitted at the END, however empty its buffer", async () => {
    const inbox = filled(serverInbox(true), 48);
    for (let i = 0; i < 44; i++) await inbox.next();
    const before = inbox.packedBytes;
    inbox.end();
    expect(inbox.packedBytes).toBe(before);
  });
});
