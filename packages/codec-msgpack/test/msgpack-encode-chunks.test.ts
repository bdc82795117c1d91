import { describe, expect, it } from 'vitest';
import { expectMessagesKeptAcrossChunks } from '@skein/test-utils';
import { msgpack } from '../src/index.js';
import { FastEncoder, MAX_BYTES } from '../src/fast-encode.js';
import { libraryCoders } from '../src/library-coders.js';

// The fast encoder hands out views of shared chunks (src/fast-encode.ts): every message handed
// out must keep its bytes whatever is encoded after it, across chunk ends and large messages.

describe('msgpack encode: messages as views of shared chunks', () => {
  it('keeps every message as it was written while thousands more are encoded, across chunk ends and large messages', () => {
    const fast = new FastEncoder({ ignoreUndefined: false, sortKeys: false, maxDepth: 100 });
    const { encoder } = libraryCoders({});
    expectMessagesKeptAcrossChunks((value) => fast.encode(value), (value) => encoder.encode(value), 20_000);
  });

  it('leaves nothing of a message the fast path gave up on: the next one starts where it would have', () => {
    const fast = new FastEncoder({ ignoreUndefined: false, sortKeys: false, maxDepth: 100 });
    const first = fast.encode([1, 2, 3])!;
    expect(fast.encode([4, new Date(0)])).toBeNull(); // a Date: left to the library, midway
    const next = fast.encode([5])!;
    expect(next.byteOffset).toBe(first.byteOffset + first.length);
    expect([...first]).toEqual([0x93, 1, 2, 3]);
    expect([...next]).toEqual([0x91, 5]);
  });

  it('still hands a message of MAX_BYTES to the library, and a codec round-trips what it encoded before and after', () => {
    const codec = msgpack();
    const before = codec.encode({ a: 1 });
    const big = codec.encode({ blob: new Uint8Array(MAX_BYTES) });
    const after = codec.encode({ b: 2 });
    expect(codec.decode(before)).toEqual({ a: 1 });
    expect((codec.decode(big) as { blob: Uint8Array }).blob.length).toBe(MAX_BYTES);
    expect(codec.decode(after)).toEqual({ b: 2 });
  });
});
