import { describe, expect, it } from 'vitest';
import { Tag } from 'cbor-x';
import { cborCodec } from '../src/index.js';

/**
 * A cbor-x record a message defines (tag 0xdfff `[id, keys, ...values]`) is read in that message
 * only. Messages over 256 bytes were decoded with the codec's cbor-x Encoder, which keeps a
 * `structures` array: every later such message, of any peer, read the id as that record, and
 * the definitions stayed held with their keys (20 failed 2 MiB messages held 168 MB).
 */

/** `[head..., byte string]` padded with the byte string to `size` bytes, so cbor-x reads it in place (not the small messages' buffer). */
function padded(head: number[], size = 400): Uint8Array {
  const fill = size - 1 - head.length - 3;
  const bytes = new Uint8Array(size);
  bytes.set([0x82, ...head, 0x59, fill >> 8, fill & 255]);
  return bytes;
}

/** The definition of record 0xe000 + `id` with the one key `a`, its value to follow. */
const define = (id: number): number[] => [0xd9, 0xdf, 0xff, 0x83, 0x19, 0xe0, id, 0x81, 0x61, 0x61];
/** A reference to record 0xe000 + `id` holding 2: a record only where the message defines it. */
const refer = (id: number): number[] => [0xd9, 0xe0, id, 0x81, 0x02];

describe('cbor records (tag 0xdfff) are read in the message that defines them only', () => {
  it('reads the record in its own message, and its id in the next as any other tag', () => {
    expect((cborCodec.decode(padded([...define(0), 0x01])) as unknown[])[0]).toEqual({ a: 1 });
    expect((cborCodec.decode(padded(refer(0))) as unknown[])[0]).toEqual(new Tag([2], 0xe000));
  });

  it('keeps nothing of a message that failed after defining one', () => {
    // The definition, then a break where its value should be.
    expect(() => cborCodec.decode(padded([...define(1), 0xff]))).toThrow();
    expect((cborCodec.decode(padded(refer(1))) as unknown[])[0]).toEqual(new Tag([2], 0xe001));
  });
});
