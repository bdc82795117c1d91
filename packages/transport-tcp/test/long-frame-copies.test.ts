import { afterEach, describe, expect, it } from 'vitest';
import { nodeRuntime } from '@skein/runtime-node';
import { cleanups } from '@skein/test-utils';
import { countingRuntime, serve, tcp } from './harness.js';
import { header, noise } from './spec.js';

/*
 * A long frame cut across reads is copied into its own memory as its chunks arrive, never half
 * of it in one go: that memory is fresh, and touching it costs page faults, so a copy of half
 * of a 48 MiB frame held the event loop 75 ms on an idle 2-core VM, and over a second under CPU
 * load (a client's throttled relay in the same process starved). Counted, not timed: the bytes
 * `Uint8Array#set` writes into the frame's memory while each chunk is handed to the transport.
 */

const cleanup = cleanups();

/** Not a power of two, so that no other buffer of the test is this long. */
const BODY = 8 * 1024 * 1024 + 12_345;
const FRAME = 4 + BODY;

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

describe('a long frame received over a socket', () => {
  it('is copied into its memory once, a share as each chunk arrives: no chunk copies more than a few chunks\' worth', async () => {
    const { runtime, received, chunk } = countingRuntime();
    const server = await serve(tcp(undefined, runtime));
    cleanup.push(() => server.listener.close());
    const sender = await nodeRuntime.connect(server.listener.address);
    sender.bind({ data: () => {}, drain: () => {}, end: () => {}, close: () => {} });
    cleanup.push(() => sender.close());
    const rec = await server.next();
    const body = noise(BODY, 7);

    // Bytes copied into the frame's memory while each chunk was handed on, by the bytes received with it.
    const copiedWith = new Map<number, number>();
    let largestChunk = 0;
    countCopiesIntoFrame((n) => {
      copiedWith.set(received[0]!, (copiedWith.get(received[0]!) ?? 0) + n);
      largestChunk = Math.max(largestChunk, chunk[0]!);
    });
    sender.write([header(BODY), body]);
    await rec.frameCount(1);
    delete (Uint8Array.prototype as { set?: unknown }).set;

    expect(Buffer.compare(rec.frames[0]!.body, body)).toBe(0);
    expect(received[0]).toBe(FRAME);
    const copies = [...copiedWith.values()];
    // Linear: every byte of the frame is copied into its memory once.
    expect(copies.reduce((a, b) => a + b, 0)).toBe(FRAME);
    // Done as it arrives: a chunk brings its own bytes and a share of those that came before the
    // frame's memory was made, in proportion (rounded up to a whole earlier chunk). All that share
    // at once, with the chunk past half the frame, was over 4 MiB here, 64 of the largest chunk.
    expect(largestChunk).toBeGreaterThan(0);
    expect(Math.max(...copies)).toBeLessThanOrEqual(4 * largestChunk);
    // A share per chunk, not one copy at the end: most chunks past half of it copy into it.
    expect(copiedWith.size).toBeGreaterThan(FRAME / 2 / largestChunk);
  }, 30_000);
});
