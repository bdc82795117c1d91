// The codec suite's checks must fail a codec that gets it wrong: each runs here against
// @skein/codec-msgpack with one fault put in, and passes the codec as it is.
import { msgpackCodec } from '@skein/codec-msgpack';
import type { Codec } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { decodedBytesWrittenOver } from '../src/decoded-bytes-kept.js';

/** msgpack, but every decoded Uint8Array is a view of one scratch buffer, reused from its start by each decode. */
function scratchBytesCodec(): Codec {
  const scratch = new Uint8Array(1 << 20);
  const reuse = (v: unknown, at: { n: number }): unknown => {
    if (v instanceof Uint8Array) {
      const view = scratch.subarray(at.n, at.n + v.length);
      view.set(v);
      at.n += v.length;
      return view;
    }
    if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) (v as Record<string, unknown>)[k] = reuse(x, at);
    return v;
  };
  return { name: 'msgpack (scratch bytes)', encode: (v) => msgpackCodec.encode(v), decode: (b) => reuse(msgpackCodec.decode(b), { n: 0 }) };
}

describe('decoded bytes must stay as they were after later decodes', () => {
  it('passes msgpack', () => expect(decodedBytesWrittenOver(msgpackCodec)).toEqual([]));

  it('fails a decoder that reuses a scratch buffer for the bytes it returns', () => {
    const changed = decodedBytesWrittenOver(scratchBytesCodec());
    expect(changed.length).toBeGreaterThan(100);
  });
});
