import { describe, expect, it } from 'vitest';
import { fullGc, seededRandom } from '@skein/test-utils';
import { BLOCK_BYTES, SLICE_BYTES } from '../src/frame-assembly.js';
import { FrameReader } from '../src/frame-reader.js';
import { PendingFrameBudget } from '../src/pending-frame-budget.js';
import { nextTurn } from './harness.js';
import { concat, encode, lengthPrefixed, noise } from './spec.js';

/*
 * Long frames are copied into their memory in three ways that interleave: a share with each
 * chunk past half of the frame, a slice per macrotask (scheduled when that memory is made), and
 * straight in as the rest arrives. Random streams of short, medium and long frames, cut at
 * random points, fed with random pauses of a few macrotasks between chunks (or none: chunks
 * back to back in one turn, as a read batch brings them; a frame completing while its slice is
 * due, the next one past half before the stale slice runs), and sometimes dropped mid-frame (a
 * closed connection) before a new stream on the same reader: every frame must come out byte-exact
 * when handed out and stay so after every slice has run, the budget must hold what the frame is
 * charged at every point and nothing once idle, and a frame's memory, once its backlog is
 * copied, must be all the reader holds of what arrived.
 */

const spec = lengthPrefixed(16 << 20);

/** Random bytes to cut bodies from (at random offsets, so that a misplaced piece shows). */
const POOL = noise(6 * 1024 * 1024, 11);

function bodyLength(random: () => number): number {
  const r = random();
  if (r < 0.4) return Math.floor(random() * (BLOCK_BYTES + 100));
  if (r < 0.75) return BLOCK_BYTES + Math.floor(random() * 200_000);
  // Long enough that the backlog takes a few slices.
  return 2 * SLICE_BYTES + Math.floor(random() * 3 * SLICE_BYTES);
}

function frames(random: () => number, count: number): Uint8Array[] {
  return Array.from({ length: count }, () => {
    const n = bodyLength(random);
    const from = Math.floor(random() * (POOL.length - n));
    return encode(POOL.subarray(from, from + n));
  });
}

/** How a stream is cut: mostly dribbles, as a socket reads, or in large reads (a batch, another runtime). */
const CUTS = [
  (random: () => number) => (random() < 0.7 ? 1 + Math.floor(random() * 200) : 1 + Math.floor(random() * 64 * 1024)),
  (random: () => number) => 1 + Math.floor(random() * 64 * 1024),
  (random: () => number) => 1 + Math.floor(random() * 2 * SLICE_BYTES),
];

/** Where each frame of a stream starts, and the stream's length last. */
function starts(stream: readonly Uint8Array[]): number[] {
  const out = [0];
  for (const f of stream) out.push(out[out.length - 1]! + f.length);
  return out;
}

describe('FrameAssembly under random interleavings of chunks, slices and discards', () => {
  it('hands out every frame byte-exact, keeps it so, charges the budget what it holds, and lets go of every chunk once past half', async () => {
    let stalledPastHalf = 0;
    let assembledFrames = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const random = seededRandom(seed);
      const budget = new PendingFrameBudget(Infinity);
      let expected: Uint8Array[] = [];
      let delivered = 0;
      /** Assembled frames (their own memory, not a chunk's), checked again once every slice has run. */
      const assembled: { bytes: Uint8Array; want: Uint8Array }[] = [];
      const chunks = new WeakSet<ArrayBufferLike>();
      const r = new FrameReader(spec, budget, {
        frameRead(bytes, start, end) {
          const want = expected[delivered++]!;
          expect(Buffer.compare(bytes.subarray(start, end), want), `seed ${seed}, frame ${delivered - 1}`).toBe(0);
          if (!chunks.has(bytes.buffer)) assembled.push({ bytes, want });
          return true;
        },
      });
      /** Every chunk fed, to see that none is held once a frame's backlog is copied. */
      const fed: WeakRef<ArrayBuffer>[] = [];
      /** Bytes [from, to) of `stream` as a chunk of its own, as a socket's; not held here once read. */
      const feed = (stream: Uint8Array, from: number, to: number): number => {
        const chunk = stream.slice(from, to);
        fed.push(new WeakRef(chunk.buffer));
        chunks.add(chunk.buffer);
        return r.push(chunk);
      };

      for (let segment = 0; segment < 3; segment++) {
        expected = frames(random, 4 + Math.floor(random() * 6));
        delivered = 0;
        const stream = concat(expected);
        const at = starts(expected);
        // Some streams are dropped mid-frame, past half of a long one where there is one (often
        // just past: its backlog not yet copied).
        const long = expected.findIndex((f) => f.length > 2 * SLICE_BYTES);
        const dropAt = random() < 0.5 ? 0.5 + 0.05 * random() : 0.55 + 0.4 * random();
        const cut = CUTS[Math.floor(random() * CUTS.length)]!;
        // How often a chunk is followed by a turn or more (slices run), not by the next chunk at once.
        const pause = [0, 0.1, 0.5][Math.floor(random() * 3)]!;
        const stop = random() < 0.5 && long >= 0 ? at[long]! + Math.floor(expected[long]!.length * dropAt) : stream.length;
        /** Frames of this stream already stalled past half (once each). */
        const stalled = new Set<number>();
        for (let pos = 0; pos < stop; ) {
          const end = Math.min(stop, pos + cut(random));
          if (feed(stream, pos, end) !== end - pos) expect({ seed, pos, end }).toBe('read to the end of the chunk');
          pos = end;
          // The frame under way and how much of it is here.
          const k = at.findIndex((s) => s > pos) - 1;
          const part = k >= 0 ? pos - at[k]! : 0;
          const length = expected[k]?.length ?? 0;
          // What it holds is charged: all that arrived, at most twice that plus a block, or the frame's length once past half.
          const charged = r.midFrame ? part > 0 && budget.inUse >= part && budget.inUse <= Math.max(length, 2 * part + BLOCK_BYTES) : budget.inUse === 0;
          if (!charged) expect({ seed, pos, part, length, inUse: budget.inUse, midFrame: r.midFrame }).toBe('charged what it holds');
          // Past half of a long frame, stalled: within a slice a turn, its memory is all it holds.
          if (r.midFrame && part * 2 >= length && length > 2 * SLICE_BYTES && !stalled.has(k) && random() < 0.1) {
            stalled.add(k);
            for (let t = 0; t < Math.ceil(length / SLICE_BYTES) + 2; t++) await nextTurn();
            fullGc();
            expect(fed.filter((ref) => ref.deref() !== undefined), `seed ${seed}: chunks held past half of a stalled frame`).toEqual([]);
            fed.length = 0;
            expect(budget.inUse).toBe(length);
            stalledPastHalf++;
          }
          // Mostly back to back, as a read batch comes; sometimes a turn or three for the slices.
          if (random() < pause) for (let t = Math.floor(random() * 3); t >= 0; t--) await nextTurn();
        }
        if (stop < stream.length) {
          expect(r.midFrame).toBe(true);
          r.discard();
          expect(budget.inUse).toBe(0);
          expect(r.midFrame).toBe(false);
          expect(delivered).toBe(long);
        } else {
          expect(delivered).toBe(expected.length);
        }
      }
      // Every slice scheduled has run: none wrote into a frame handed out.
      for (let t = 0; t < 10; t++) await nextTurn();
      for (const { bytes, want } of assembled) expect(Buffer.compare(bytes, want)).toBe(0);
      expect(budget.inUse).toBe(0);
      assembledFrames += assembled.length;
    }
    expect(assembledFrames).toBeGreaterThan(0);
    // The seeds made some long frames stall past half.
    expect(stalledPastHalf).toBeGreaterThan(0);
  }, 30_000);
});
