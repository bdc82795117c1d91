import { describe, expect, it } from 'vitest';
import { encodeCallHead } from '../src/wire/call-head.js';
import { headOver } from '../src/wire/head-size.js';

/** What an entry counts besides its bytes: the protocol's number (docs/protocol.md, "Call head"). */
const OVERHEAD = 32;

/** A head of `n` one-byte-key entries with empty values, then one entry whose value pads it by `pad` bytes. */
function head(n: number, pad: number): Uint8Array {
  const m: Record<string, string> = {};
  for (let i = 0; i < n; i++) m[String.fromCharCode(0x21 + (i % 94), 0x21 + Math.floor(i / 94))] = '';
  m['~pad'] = 'v'.repeat(pad);
  return encodeCallHead(undefined, m);
}

describe('headOver', () => {
  it('counts every entry 32 besides its bytes, on both sides of the short-head shortcut', () => {
    const max = 1024;
    for (let n = 0; n <= 40; n++) {
      for (let pad = 0; pad <= 1100; pad += 7) {
        const h = head(n, pad);
        const counted = h.length + OVERHEAD * (n + 1);
        const over = headOver(h, 0, h.length, max);
        if (h.length > max) expect(over).toEqual({ bytes: h.length });
        else if (counted > max) expect(over).toEqual({ bytes: h.length, entries: n + 1, counted });
        else expect(over).toBeUndefined();
      }
    }
  });

  it('counts an entry cut short as one (its decoding refuses it), and reads within its bounds only', () => {
    // remaining_ms, then a key length of 200 with nothing after it, in a larger buffer of junk.
    const b = new Uint8Array(64).fill(0xff);
    b.set([0, 0, 0, 0, 200], 10);
    expect(headOver(b, 10, 15, 4 + 1 + OVERHEAD - 1)).toEqual({ bytes: 5, entries: 1, counted: 5 + OVERHEAD });
    expect(headOver(b, 10, 15, 4 + 1 + OVERHEAD)).toBeUndefined();
    // A head of remaining_ms alone counts its 4 bytes.
    expect(headOver(b, 10, 14, 4)).toBeUndefined();
    expect(headOver(b, 10, 14, 3)).toEqual({ bytes: 4 });
  });
});
