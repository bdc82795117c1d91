import { seededRandom as rng } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { KeptWrites } from '../src/internals/kept-writes.js';
import { itemCost } from '../src/wire/extension-frames.js';

/** Part sizes around the chunk (64) and SMALL_PART (1024) edges, where keep and take must agree on placement. */
const SIZES = [0, 1, 2, 31, 32, 33, 63, 64, 65, 100, 500, 1023, 1024, 1025, 3000];

/**
 * KeptWrites against a plain array of copies: for any sequence of part sizes, replays (take after
 * rewind) give back every item in order, byte for byte, also after more items were kept once a
 * replay finished or stopped half way (a refusal during a replay), and after the writer reused
 * its buffer for a small part (copied).
 */
describe('KeptWrites', () => {
  it('gives back what it kept, in order, across rewinds and items kept after a replay (randomized)', () => {
    for (let seed = 1; seed <= 120; seed++) {
      const r = rng(seed);
      const pick = (): number => (r() < 0.8 ? SIZES[Math.floor(r() * SIZES.length)]! : Math.floor(r() * 1100));
      const kept = new KeptWrites();
      const model: [number[], number[]][] = [];
      let bytes = 0;
      let stamp = 0;
      const part = (n: number): Uint8Array => {
        const p = new Uint8Array(n);
        for (let i = 0; i < n; i++) p[i] = ++stamp & 0xff;
        return p;
      };
      for (let round = 0; round < 6; round++) {
        const adds = Math.floor(r() * 12);
        for (let i = 0; i < adds; i++) {
          const msg = part(pick());
          const blob = part(pick());
          kept.add(msg, blob, itemCost(msg, blob));
          bytes += itemCost(msg, blob);
          model.push([[...msg], [...blob]]);
          // The writer may reuse a small part's buffer at once: what was kept must not change.
          if (msg.length < 1024) msg.fill(0xee);
          if (blob.length < 1024) blob.fill(0xee);
        }
        kept.rewind();
        // A replay that stops half way (refused again), or runs to the end.
        const upTo = r() < 0.5 ? Math.floor(r() * (model.length + 1)) : model.length;
        const got: [number[], number[]][] = [];
        for (let i = 0; i < upTo; i++) got.push([[...kept.take()], [...kept.take()]]);
        expect({ seed, round, got }).toEqual({ seed, round, got: model.slice(0, upTo) });
        expect(kept.pending).toBe(upTo < model.length);
        expect(kept.size).toBe(model.length);
        expect(kept.bytes).toBe(bytes);
      }
    }
  });
});
