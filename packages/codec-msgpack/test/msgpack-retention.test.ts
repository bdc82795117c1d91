import { describe, expect, it } from 'vitest';
import { ErrorCode, type Codec } from '@skein/core';
import { fullGc } from '@skein/test-utils';
import { msgpack } from '../src/index.js';

/**
 * What the codec holds after a decode: nothing of the message. The library's decoders keep a
 * view of the last bytes they read, and after a failed decode the values read so far; the
 * decoders of Map and Set payloads (one per level of nesting, kept for reuse) would each hold
 * a message of their own, so a peer could pin as many messages as there are levels.
 */

/** Set extensions (type 0), each holding a one-item array with the next, `levels` deep, around `inner`. */
function nestedSets(levels: number, inner: number[]): number[] {
  let payload = [0x91, ...inner];
  for (let i = 1; i < levels; i++) payload = [0x91, 0xc7, payload.length, 0x00, ...payload];
  return [0xc7, payload.length, 0x00, ...payload];
}

/** `message` at the start of an ArrayBuffer of 1 MiB (as a frame in a read buffer is), and a WeakRef to that buffer. */
function inLargeBuffer(message: number[]): { bytes: Uint8Array; buffer: WeakRef<ArrayBuffer> } {
  const buffer = new ArrayBuffer(1 << 20);
  const bytes = new Uint8Array(buffer, 0, message.length);
  bytes.set(message);
  return { bytes, buffer: new WeakRef(buffer) };
}

/** A turn later (a WeakRef holds its target to the end of the turn it was made in), after a full collection: is it gone? */
async function collected(refs: WeakRef<object>[]): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve));
  fullGc();
  return refs.filter((r) => r.deref() === undefined).length;
}

/**
 * Decodes each message, deepest first (so each is the last one some level's decoder read), in
 * a frame of its own: nothing of them stays in the caller's locals. Returns WeakRefs to their
 * buffers. The codec is the caller's, alive after.
 */
function decodeEach(codec: Codec, inner: number[], check: (decode: () => unknown) => void): WeakRef<object>[] {
  const refs: WeakRef<object>[] = [];
  for (let levels = 20; levels >= 1; levels--) {
    const { bytes, buffer } = inLargeBuffer(nestedSets(levels, inner));
    check(() => codec.decode(bytes));
    refs.push(buffer);
  }
  return refs;
}

describe('msgpack decoders hold nothing of a message after its decode', () => {
  it('read: no message stays held, at any level of Set payloads', async () => {
    const codec = msgpack();
    const refs = decodeEach(codec, [0x01], (decode) => expect(decode()).toBeInstanceOf(Set));
    expect(await collected(refs)).toBe(refs.length);
    expect(codec.decode(Uint8Array.of(0x01))).toBe(1);
  });

  it('empty: no buffer stays held by an empty view of it', async () => {
    const codec = msgpack();
    const refs = [0, 1, 2].map(() => {
      const { bytes, buffer } = inLargeBuffer([]);
      expect(() => codec.decode(bytes)).toThrow(expect.objectContaining({ code: ErrorCode.Decode }));
      return buffer;
    });
    expect(await collected(refs)).toBe(refs.length);
  });

  it('refused: neither the message nor what was read of it stays held', async () => {
    // In the innermost payload: an array of two whose first item is a bin 8 (a view of the
    // message, kept in the array under way), then a byte no msgpack value starts with.
    const codec = msgpack();
    const refs = decodeEach(codec, [0x92, 0xc4, 0x02, 0x07, 0x07, 0xc1], (decode) => expect(decode).toThrow(expect.objectContaining({ code: ErrorCode.Decode })));
    expect(await collected(refs)).toBe(refs.length);
    expect(codec.decode(Uint8Array.from(nestedSets(3, [0x01])))).toEqual(new Set([new Set([new Set([1])])]));
  });
});
