import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../src/index.js';

/**
 * A decoded binary of up to 64 bytes is a copy, a longer one a view of the bytes decoded
 * (README, type mapping): on the fast path, and inside a Map or Set, which the library reads.
 */

function patterned(length: number, seed: number): Uint8Array {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** The shapes a binary arrives in: alone, beside a longer one, in a Map and a Set (the library's). */
const shapes: [string, (b: Uint8Array) => unknown, (decoded: unknown) => Uint8Array][] = [
  ['alone', (b) => b, (d) => d as Uint8Array],
  ['beside 1000 bytes', (b) => ({ big: patterned(1000, 9), b }), (d) => (d as { b: Uint8Array }).b],
  ['in a Map', (b) => new Map([['b', b]]), (d) => (d as Map<string, Uint8Array>).get('b')!],
  ['in a Set', (b) => new Set([b]), (d) => [...(d as Set<Uint8Array>)][0]!],
];

/** Decodes `value` from a message of its own (what a stream's item is), then writes over that message. */
function decodeThenOverwrite(value: unknown, pick: (decoded: unknown) => Uint8Array): { out: Uint8Array; message: Uint8Array } {
  const message = msgpackCodec.encode(value).slice();
  const out = pick(msgpackCodec.decode(message));
  message.fill(0xee);
  return { out, message };
}

describe('msgpack: decoded binaries', () => {
  for (const [shape, wrap, pick] of shapes) {
    it(`of up to 64 bytes are copies (${shape}): writing over the message later changes none`, () => {
      for (const n of [0, 1, 32, 64]) {
        const sent = patterned(n, n);
        const { out, message } = decodeThenOverwrite(wrap(sent), pick);
        expect(out.constructor, `${n} bytes`).toBe(Uint8Array);
        expect(Buffer.compare(out, sent), `${n} bytes`).toBe(0);
        expect(out.buffer, `${n} bytes`).not.toBe(message.buffer);
      }
    });

    it(`of more than 64 bytes are views of the message (${shape}): no copy`, () => {
      for (const n of [65, 5000]) {
        const sent = patterned(n, n);
        const { out, message } = decodeThenOverwrite(wrap(sent), pick);
        expect(out.constructor, `${n} bytes`).toBe(Uint8Array);
        expect(out.buffer, `${n} bytes`).toBe(message.buffer);
        expect(out.every((b) => b === 0xee), `${n} bytes`).toBe(true);
      }
    });
  }
});
