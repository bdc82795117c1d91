import { describe, expect, it } from 'vitest';
import { FrameError } from '@skein/core';
import { fullGc, seededRandom } from '@skein/test-utils';
import { BLOCK_BYTES } from '../src/frame-assembly.js';
import { FrameReader } from '../src/frame-reader.js';
import { PendingFrameBudget } from '../src/pending-frame-budget.js';
import { LIMIT, concat, encode, header, lengthPrefixed, noise, str, text } from './spec.js';

const spec = lengthPrefixed(1000);

const unlimited = (): PendingFrameBudget => new PendingFrameBudget(Infinity);

/** A reader that collects what it reads. */
function reader(keepGoing: (count: number) => boolean = () => true, budget = unlimited(), frameSpec = spec) {
  const frames: { bytes: Uint8Array; start: number; header: Uint8Array; body: Uint8Array }[] = [];
  const r = new FrameReader(frameSpec, budget, {
    frameRead(bytes, start, end) {
      frames.push({ bytes, start, header: bytes.subarray(start, start + 4), body: bytes.subarray(start + 4, end) });
      return keepGoing(frames.length);
    },
  });
  return { r, frames };
}

/** A reader of large frames that keeps whole frames and says, into `given`, when room is given to it after a wait. */
function waiter(name: string, budget: PendingFrameBudget, given: string[]) {
  const frames: Uint8Array[] = [];
  const r = new FrameReader(lengthPrefixed(LIMIT), budget, {
    frameRead: (bytes, start, end) => (frames.push(bytes.subarray(start, end)), true),
    roomGiven: () => void given.push(name),
  });
  return { r, frames };
}

const bodies = [text('alpha'), new Uint8Array(0), noise(300, 1), text('b'), new Uint8Array(0), noise(40, 2)];
const stream = concat(bodies.map(encode));

function readAll(chunks: Uint8Array[]): Uint8Array[] {
  const { r, frames } = reader();
  for (const c of chunks) expect(r.push(c)).toBe(c.length);
  expect(r.midFrame).toBe(false);
  for (const f of frames) expect(f.header).toEqual(header(f.body.length));
  return frames.map((f) => f.body);
}

describe('FrameReader', () => {
  it('hands out the place in the chunk of every frame that lies inside it, with no copy', () => {
    const chunk = concat([encode(text('one')), encode(new Uint8Array(0)), encode(text('three'))]);
    const { r, frames } = reader();
    r.push(chunk);
    expect(frames.map((f) => str(f.body))).toEqual(['one', '', 'three']);
    expect(frames.map((f) => f.start)).toEqual([0, 7, 11]);
    for (const f of frames) expect(f.bytes).toBe(chunk);
  });

  it('reads the same frames wherever the stream is cut in two', () => {
    for (let i = 0; i <= stream.length; i++) {
      expect(readAll([stream.subarray(0, i), stream.subarray(i)])).toEqual(bodies);
    }
  });

  it('reads the same frames wherever the stream is cut in three', () => {
    const small = concat([encode(text('xy')), encode(new Uint8Array(0)), encode(text('hello'))]);
    const expected = [text('xy'), new Uint8Array(0), text('hello')];
    for (let i = 0; i <= small.length; i++) {
      for (let j = i; j <= small.length; j++) {
        expect(readAll([small.subarray(0, i), small.subarray(i, j), small.subarray(j)])).toEqual(expected);
      }
    }
  });

  it('reads frames fed one byte at a time, assembling each frame in memory of its exact size', () => {
    const { r, frames } = reader();
    for (const b of stream) r.push(Uint8Array.of(b));
    expect(frames.map((f) => f.body)).toEqual(bodies);
    for (const f of frames) {
      expect(f.start).toBe(0);
      expect(f.bytes.length).toBe(4 + f.body.length);
      expect(f.header).toEqual(header(f.body.length));
    }
  });

  it('assembles a frame whose header was cut, header and body in one piece', () => {
    const frame = encode(text('whole body'));
    const { r, frames } = reader();
    r.push(frame.slice(0, 2));
    r.push(frame.slice(2));
    expect(str(frames[0]!.body)).toBe('whole body');
    expect(frames[0]!.bytes).toEqual(frame);
  });

  it('is mid-frame exactly while a frame is incomplete', () => {
    const frame = encode(text('abc'));
    const { r } = reader();
    r.push(frame.subarray(0, 2));
    expect(r.midFrame).toBe(true);
    r.push(frame.subarray(2, 5));
    expect(r.midFrame).toBe(true);
    r.push(frame.subarray(5));
    expect(r.midFrame).toBe(false);
  });

  it('throws the spec FrameError for an over-limit header, even one cut across chunks', () => {
    const huge = header(0xffffffff);
    const { r } = reader();
    for (const b of huge.subarray(0, 3)) r.push(Uint8Array.of(b));
    // Had it allocated first, 4 GiB would have failed with a RangeError, not this.
    expect(() => r.push(huge.subarray(3))).toThrow(new FrameError('body of 4294967295 bytes is over the 1000 byte limit'));
  });

  it.each([-1, 1.5, Number.NaN, 2 ** 53])('rejects a body length of %s from the spec as a FrameError', (length) => {
    const r = new FrameReader({ headerLength: 1, bodyLength: () => length }, unlimited(), { frameRead: () => true });
    expect(() => r.push(Uint8Array.of(0, 0))).toThrow(FrameError);
  });

  it('stops after the frame the sink refused to go past, and continues from there', () => {
    const chunk = concat([encode(text('a')), encode(text('b')), encode(text('c'))]);
    const { r, frames } = reader((count) => count !== 2);
    const stop = r.push(chunk);
    expect(frames.map((f) => str(f.body))).toEqual(['a', 'b']);
    expect(stop).toBe(10);
    expect(r.push(chunk, stop)).toBe(chunk.length);
    expect(frames.map((f) => str(f.body))).toEqual(['a', 'b', 'c']);
  });

  it('stops after an assembled frame the sink refused to go past, wherever it was cut', () => {
    const stream = concat([encode(text('first')), encode(text('second')), encode(text('third'))]);
    for (let cut = 1; cut < 9; cut++) {
      const { r, frames } = reader((count) => count !== 1);
      expect(r.push(stream.subarray(0, cut))).toBe(cut);
      const rest = stream.subarray(cut);
      const stop = r.push(rest);
      expect(frames.map((f) => str(f.body))).toEqual(['first']);
      expect(stop).toBe(9 - cut);
      expect(r.midFrame).toBe(false);
      expect(r.push(rest, stop)).toBe(rest.length);
      expect(frames.map((f) => str(f.body))).toEqual(['first', 'second', 'third']);
    }
  });

  it('lets what the sink throws out of push', () => {
    const r = new FrameReader(spec, unlimited(), {
      frameRead() {
        throw new TypeError('bug above');
      },
    });
    expect(() => r.push(encode(text('x')))).toThrow(TypeError);
  });
});

describe('FrameReader, frames cut across chunks', () => {
  const large = lengthPrefixed(LIMIT);

  /** Feeds `frame` in pieces of random sizes, mostly dribbles, some large; checks what the budget holds after each. */
  function dribble(frame: Uint8Array, seed: number) {
    const budget = unlimited();
    const random = seededRandom(seed);
    const { r, frames } = reader(undefined, budget, large);
    for (let at = 0; at < frame.length; ) {
      const piece = frame.subarray(at, at + 1 + Math.floor(random() * (random() < 0.8 ? 300 : 20_000)));
      r.push(piece.slice());
      at += piece.length;
      if (at === frame.length) break;
      // Everything that arrived is charged, and no more than twice that plus one block.
      expect(budget.inUse).toBeGreaterThanOrEqual(at);
      expect(budget.inUse).toBeLessThanOrEqual(2 * at + BLOCK_BYTES);
    }
    return { frames, budget };
  }

  it('assembles a frame cut at random points byte-exact, holding at most twice what arrived plus a block', () => {
    const frame = encode(noise(300_000, 5));
    for (let seed = 1; seed <= 10; seed++) {
      const { frames, budget } = dribble(frame, seed);
      expect(frames).toHaveLength(1);
      expect(frames[0]!.start).toBe(0);
      expect(Buffer.compare(frames[0]!.bytes, frame)).toBe(0);
      expect(budget.inUse).toBe(0);
    }
  });

  it('holds what a header alone sent, not the 16 MiB body it claims', () => {
    const budget = unlimited();
    const readers = Array.from({ length: 64 }, () => reader(undefined, budget, large));
    const before = process.memoryUsage().arrayBuffers;
    for (const { r } of readers) r.push(header(LIMIT));
    const grown = process.memoryUsage().arrayBuffers - before;
    const sent = 64 * header(0).length;
    expect(budget.inUse).toBe(sent);
    // Allocated up front, this was 64 × 16 MiB = 1 GiB.
    expect(grown).toBeLessThanOrEqual(2 * sent);
    for (const { r } of readers) expect(r.midFrame).toBe(true);
  });

  it('keeps no view of a chunk for the start of a frame that is a small part of it: what it holds is what is charged', async () => {
    const budget = unlimited();
    let read = 0;
    const r = new FrameReader(large, budget, { frameRead: () => (read++, true) });
    // One read's chunk (60 KiB): a whole frame the sink is done with, then the start of a long one.
    let chunk: Uint8Array | undefined = concat([encode(noise(60_000, 3)), header(LIMIT), noise(10, 4)]);
    const received = new WeakRef(chunk.buffer);
    r.push(chunk);
    chunk = undefined;
    // Copied into a block, charged as such. A view of those 14 bytes held all 60 KiB, charged 14:
    // 4,000 stalled peers held 240 MB against a 56 KB charge to maxPendingFrameBytes.
    expect([read, r.midFrame, budget.inUse]).toEqual([1, true, BLOCK_BYTES]);
    await new Promise((resolve) => setImmediate(resolve));
    fullGc();
    expect(received.deref()).toBeUndefined();
  });

  it('keeps no view of a chunk that is a small part of the memory it views: what it holds is what is charged', async () => {
    const budget = unlimited();
    let read = 0;
    const r = new FrameReader(large, budget, { frameRead: () => (read++, true) });
    // Deno's ByteConn reads one after the other into a 64 KiB region and hands each read on as a
    // view of it (runtime-deno's ReadRegions): a whole frame, then, in the next read, the start of
    // a long one, 14 bytes at 40,000 of the same region.
    let region: Uint8Array | undefined = new Uint8Array(64 * 1024);
    const first = encode(noise(40_000 - 4, 3));
    region.set(first);
    region.set(concat([header(LIMIT), noise(10, 4)]), first.length);
    const received = new WeakRef(region.buffer);
    r.push(region.subarray(0, first.length));
    r.push(region.subarray(first.length, first.length + 14));
    region = undefined;
    // Copied into a block, charged as such. A view of those 14 bytes held all 64 KiB, charged 14.
    expect([read, r.midFrame, budget.inUse]).toEqual([1, true, BLOCK_BYTES]);
    await new Promise((resolve) => setImmediate(resolve));
    fullGc();
    expect(received.deref()).toBeUndefined();
  });

  it('stops at the piece that would take the shared budget over, taking nothing, until room is given; completion and discard give back', () => {
    const budget = new PendingFrameBudget(100_000);
    const given: string[] = [];
    const a = waiter('a', budget, given);
    const b = reader(undefined, budget, large);
    const [frameA, frameB] = [encode(noise(60_000, 1)), encode(noise(60_000, 2))];
    const size = frameA.length;
    // Under half of a frame: what arrived is held, and charged.
    a.r.push(frameA.slice(0, 25_000));
    b.r.push(frameB.slice(0, 25_000));
    expect(budget.inUse).toBe(50_000);
    // Past half: the frame's own memory (at most twice what arrived) is charged instead.
    b.r.push(frameB.slice(25_000, 40_000));
    expect(budget.inUse).toBe(25_000 + size);
    // a's next piece does not fit: it stops before it, taking nothing, and waits.
    const piece = frameA.slice(25_000, 35_000);
    expect([a.r.push(piece), a.r.waiting, budget.waiting, budget.inUse]).toEqual([0, true, 1, 25_000 + size]);
    // Pushed again before room is given (its connection resumed), it still waits, queued once.
    expect([a.r.push(piece), budget.waiting, given]).toEqual([0, 1, []]);
    b.r.discard();
    // b's room went to a, taken for it (its frame's own memory), and a was told.
    expect([given, a.r.waiting, budget.waiting, budget.inUse]).toEqual([['a'], false, 0, size]);
    expect(b.r.midFrame).toBe(false);
    expect(a.r.push(piece)).toBe(piece.length);
    expect(budget.inUse).toBe(size);
    a.r.push(frameA.slice(35_000));
    expect(Buffer.compare(a.frames[0]!, frameA)).toBe(0);
    expect(budget.inUse).toBe(0);
    // The budget is free again: b reads a whole frame cut in three.
    b.r.push(frameB.slice(0, 10_000));
    b.r.push(frameB.slice(10_000, 50_000));
    b.r.push(frameB.slice(50_000));
    expect(Buffer.compare(b.frames[0]!.bytes, frameB)).toBe(0);
    expect(budget.inUse).toBe(0);
  });

  it('gives freed room to the waiters oldest first, and a new taker waits behind them though its piece fits', () => {
    const budget = new PendingFrameBudget(100_000);
    const given: string[] = [];
    const [holder, small, w, n] = [waiter('holder', budget, given), waiter('small', budget, given), waiter('w', budget, given), waiter('n', budget, given)];
    const frames = { holder: encode(noise(60_000, 1)), small: encode(noise(8_000, 2)), w: encode(noise(60_000, 3)), n: encode(noise(5_000, 4)) };
    // Past half of their frames, holder and small are charged their frames' length.
    holder.r.push(frames.holder.slice(0, 40_000));
    small.r.push(frames.small.slice(0, 5_000));
    expect(budget.inUse).toBe(68_008);
    // w holds 25,000; past half of its frame it needs 35,004 more, which do not fit: it waits.
    w.r.push(frames.w.slice(0, 25_000));
    const wPiece = frames.w.slice(25_000, 35_000);
    expect([w.r.push(wPiece), w.r.waiting, budget.inUse]).toEqual([0, true, 93_008]);
    // n's first 2,000 bytes would fit (95,008 of 100,000), but w waits: n waits behind it.
    const nPiece = frames.n.slice(0, 2_000);
    expect([n.r.push(nPiece), n.r.waiting, budget.waiting]).toEqual([0, true, 2]);
    // Room for n but not for w: n does not go ahead of it.
    small.r.discard();
    expect([given, budget.waiting, budget.inUse]).toEqual([[], 2, 85_004]);
    // Room for both: w first, then n.
    holder.r.push(frames.holder.slice(40_000));
    expect(Buffer.compare(holder.frames[0]!, frames.holder)).toBe(0);
    expect([given, budget.waiting, budget.inUse]).toEqual([['w', 'n'], 0, 25_000 + 35_004 + 2_000]);
    // Each goes on with the piece it stopped at, on the room taken for it.
    expect([w.r.push(wPiece), n.r.push(nPiece), budget.inUse]).toEqual([wPiece.length, nPiece.length, 62_004]);
    w.r.push(frames.w.slice(35_000));
    n.r.push(frames.n.slice(2_000));
    expect([Buffer.compare(w.frames[0]!, frames.w), Buffer.compare(n.frames[0]!, frames.n), budget.inUse]).toEqual([0, 0, 0]);
  });

  it('takes a waiter that is discarded out of the queue, giving back what it held and what was taken for it', () => {
    const budget = new PendingFrameBudget(100_000);
    const given: string[] = [];
    const [holder, w, n] = [waiter('holder', budget, given), waiter('w', budget, given), waiter('n', budget, given)];
    holder.r.push(encode(noise(90_000, 1)).slice(0, 50_000));
    const wFrame = encode(noise(20_000, 2));
    w.r.push(wFrame.slice(0, 5_000));
    expect([w.r.push(wFrame.slice(5_000, 15_000)), budget.inUse]).toEqual([0, 95_004]);
    const nFrame = encode(noise(20_000, 3));
    expect(n.r.push(nFrame.slice(0, 5_000))).toBe(0);
    // w's connection closes while it waits: out of the queue, its 5,000 back, and n goes next.
    w.r.discard();
    expect([budget.waiting, given, budget.inUse]).toEqual([0, ['n'], 95_004]);
    // n's connection closes with room taken for it, not yet used: that comes back too.
    n.r.discard();
    holder.r.discard();
    expect([budget.waiting, budget.inUse]).toEqual([0, 0]);
  });

  it('reads a frame cut inside its header the same whatever follows, small frame or large', () => {
    for (const body of [text('small'), noise(BLOCK_BYTES * 3, 4)]) {
      const frame = encode(body);
      const budget = unlimited();
      const { r, frames } = reader(undefined, budget, large);
      r.push(frame.slice(0, 1));
      r.push(frame.slice(1, 3));
      r.push(frame.slice(3, 10));
      r.push(frame.slice(10));
      expect(frames).toHaveLength(1);
      expect(Buffer.compare(frames[0]!.bytes, frame)).toBe(0);
      expect(budget.inUse).toBe(0);
    }
  });
});
