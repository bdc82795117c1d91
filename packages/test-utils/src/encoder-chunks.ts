import { expect } from 'vitest';
import { seededRandom } from './fuzz-bytes.js';
import { hex } from './same-outcome.js';

/**
 * For an encoder that hands out its messages as views of chunks it shares between them: every
 * message keeps the bytes it was written with while 5000 more are encoded, mostly small, now and
 * then one of `large` to `2 * large` bytes that takes a chunk of its own or more than the room
 * left; and the chunks were shared, far fewer buffers than messages. `reference` is the library
 * the encoder stands in for, which writes the same bytes.
 */
export function expectMessagesKeptAcrossChunks(
  encode: (value: unknown) => Uint8Array | null,
  reference: (value: unknown) => Uint8Array,
  large: number,
): void {
  const random = seededRandom(7);
  const kept: { bytes: Uint8Array; expected: string }[] = [];
  for (let i = 0; i < 5000; i++) {
    const size = i % 997 === 0 ? large + Math.floor(random() * large) : Math.floor(random() * 300);
    const value = { id: i, text: 'x'.repeat(size), list: [i, -i, i / 3] };
    const bytes = encode(value);
    if (bytes === null) expect.fail(`message ${i} (${size} bytes of text) was left to the library`);
    kept.push({ bytes, expected: hex(reference(value)) });
  }
  for (const k of kept) expect(hex(k.bytes)).toBe(k.expected);
  expect(new Set(kept.map((k) => k.bytes.buffer)).size).toBeLessThan(kept.length / 10);
}
