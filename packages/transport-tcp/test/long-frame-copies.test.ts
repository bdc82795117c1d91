import { afterEach, describe, expect, it } from 'vitest';
import { cleanups, waitFor } from '@skein/test-utils';
import { FrameAssembly, SLICE_BYTES } from '../src/frame-assembly.js';
import { PendingFrameBudget } from '../src/pending-frame-budget.js';
import { LONG_BODY as BODY, LONG_FRAME as FRAME, countingRuntime, longFramePastHalf, nextTurn, rawSender, tcp } from './harness.js';
import { header, noise } from './spec.js';

/*
 * A long frame cut across reads is copied into its own memory as its chunks arrive, never half
 * of it in one go: that memory is fresh, and touching it costs page faults, so a copy of half
 * of a 48 MiB frame held the event loop 75 ms on an idle 2-core VM, and over a second under CPU
 * load (a client's throttled relay in the same process starved). What came before that memory
 * was made is copied in besides a slice per macrotask, so that a peer that stalls does not leave
 * it held beside that memory. Counted, not timed: the bytes `Uint8Array#set` writes into the
 * frame's memory while each chunk is handed to the transport, and in each turn between chunks.
 */

const cleanup = cleanups();

const nativeSet = Uint8Array.prototype.set;
afterEach(() => {
  // The own `set` shadows the TypedArray one; deleting it puts that back.
  delete (Uint8Array.prototype as { set?: unknown }).set;
  expect(Uint8Array.prototype.set).toBe(nativeSet);
});

/** Calls `each(n)` for every copy of n bytes into memory of the frame's length, made through `Uint8Array#set`. */
function countCopiesIntoFrame(each: (n: number) => void): void {
  Object.defineProperty(Uint8Array.prototype, 'set', {
    configurable: true,
    writable: true,
    value(this: Uint8Array, source: ArrayLike<number>, offset?: number) {
      if (this.length === FRAME) each(source.length);
      return nativeSet.call(this, source, offset);
    },
  });
}

/**
 * Counts the copies into the frame's memory: those made while a chunk is handed on, by the bytes
 * received with it, and the others by turn (copies up to the next microtask checkpoint: one
 * callback's worth).
 */
function copyCounts(received: number[], chunk: number[], handling: boolean[]) {
  const counts = { withChunk: new Map<number, number>(), betweenChunks: [] as number[], largestChunk: 0, total: 0 };
  let turnOpen = false;
  countCopiesIntoFrame((n) => {
    counts.total += n;
    counts.largestChunk = Math.max(counts.largestChunk, chunk[0]!);
    if (handling[0]) {
      counts.withChunk.set(received[0]!, (counts.withChunk.get(received[0]!) ?? 0) + n);
      return;
    }
    if (!turnOpen) {
      turnOpen = true;
      counts.betweenChunks.push(0);
      queueMicrotask(() => (turnOpen = false));
    }
    counts.betweenChunks[counts.betweenChunks.length - 1]! += n;
  });
  return counts;
}

describe('a long frame received over a socket', () => {
  it('is copied into its memory once, a share as each chunk arrives: no chunk copies more than a few chunks\' worth', async () => {
    const { runtime, received, chunk, handling } = countingRuntime();
    const { sender, rec } = await rawSender(tcp(undefined, runtime), cleanup);
    const body = noise(BODY, 7);

    const counts = copyCounts(received, chunk, handling);
    sender.write([header(BODY), body]);
    await rec.frameCount(1);
    delete (Uint8Array.prototype as { set?: unknown }).set;

    expect(Buffer.compare(rec.frames[0]!.body, body)).toBe(0);
    expect(received[0]).toBe(FRAME);
    // Linear: every byte of the frame is copied into its memory once.
    expect(counts.total).toBe(FRAME);
    // Done as it arrives: a chunk brings its own bytes and a share of those that came before the
    // frame's memory was made, in proportion (rounded up to a whole earlier chunk). All that share
    // at once, with the chunk past half the frame, was over 4 MiB here, 64 of the largest chunk.
    const copies = [...counts.withChunk.values()];
    expect(counts.largestChunk).toBeGreaterThan(0);
    expect(Math.max(...copies)).toBeLessThanOrEqual(4 * counts.largestChunk);
    // A share per chunk, not one copy at the end: most chunks past half of it copy into it.
    expect(counts.withChunk.size).toBeGreaterThan(FRAME / 2 / counts.largestChunk);
    // Between chunks, a slice at a time (whole pieces: a chunk at most past the slice).
    for (const slice of counts.betweenChunks) expect(slice).toBeLessThanOrEqual(SLICE_BYTES + counts.largestChunk);
  }, 30_000);

  it('whose peer stalls past half of it has what came before copied in, a slice per turn, without more bytes arriving', async () => {
    const { runtime, received, chunk, handling } = countingRuntime();
    const { sender, rec } = await rawSender(tcp(undefined, runtime), cleanup);
    const start = longFramePastHalf();
    const sent = start.length;

    const counts = copyCounts(received, chunk, handling);
    sender.write([start]);
    await waitFor(() => received[0]! >= sent, { what: `${sent} bytes received` });
    // Each byte that arrived is in the frame's memory, though nothing more comes. Waited on, as
    // the hang guard: copied only as more of the frame arrives, the first half stays where it was.
    await waitFor(() => counts.total === sent, { what: `all ${sent} bytes that arrived copied into the frame's memory` });
    delete (Uint8Array.prototype as { set?: unknown }).set;

    expect(received[0]).toBe(sent);
    expect(rec.frames).toHaveLength(0);
    expect(rec.closeCalls).toEqual([]);
    expect(counts.largestChunk).toBeGreaterThan(0);
    // Not in one go either: a slice per turn.
    expect(counts.betweenChunks.length).toBeGreaterThan(1);
    for (const slice of counts.betweenChunks) expect(slice).toBeLessThanOrEqual(SLICE_BYTES + counts.largestChunk);
  }, 30_000);

});

describe('a long frame\'s assembly', () => {
  it('has one slice copied a turn, none by a slice scheduled for a frame taken before it', async () => {
    const assembly = new FrameAssembly(new PendingFrameBudget(Infinity), {});
    const bytes = noise(FRAME, 3);
    const CHUNK = 64 * 1024;
    /** Hands bytes [from, to) of the frame over in chunks of their own (so kept as they are, as a socket's). */
    const feed = (from: number, to: number): void => {
      for (let at = from; at < to; at += CHUNK) {
        const piece = bytes.slice(at, Math.min(to, at + CHUNK));
        assembly.add(piece, 0, piece.length);
      }
    };
    // A frame whose memory is made past half (a slice scheduled for it), then whole and taken in the same turn.
    assembly.start(FRAME);
    feed(0, FRAME);
    expect(Buffer.compare(assembly.take(), bytes)).toBe(0);
    // The next one, past half of it: a slice scheduled for it, after the one for the frame before.
    const sent = Math.ceil(FRAME / 2) + CHUNK;
    assembly.start(FRAME);
    feed(0, sent);

    let copied = 0;
    countCopiesIntoFrame((n) => (copied += n));
    await nextTurn();
    // Scheduled after both: the stale one did nothing, the other copied one slice (of whole pieces).
    expect(copied).toBeGreaterThan(0);
    expect(copied).toBeLessThanOrEqual(SLICE_BYTES + CHUNK);
    // Until a turn copies nothing (a slice a turn, so a few turns; the bound is only a hang guard).
    for (let turns = 0, before = -1; copied !== before && turns < 100; turns++) {
      before = copied;
      await nextTurn();
    }
    // The rest of it then goes straight in, with no backlog left to take along, and it is handed out as it is.
    copied = 0;
    feed(sent, FRAME);
    expect(copied).toBe(FRAME - sent);
    expect(Buffer.compare(assembly.take(), bytes)).toBe(0);
    expect(copied).toBe(FRAME - sent);
  });
});
