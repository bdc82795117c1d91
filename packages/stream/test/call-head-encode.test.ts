import { describe, expect, it } from 'vitest';
import { below, pick, seededRandom } from '@skein/test-utils';
import { CallHeadError, decodeCallHead, encodeCallHead, wireRemaining } from '../src/wire/call-head.js';

/** The head as the wire format says it (docs/protocol.md, "Call head"), through the TextEncoder: the oracle. */
function reference(remainingMs: number | undefined, metadata: Record<string, string>): Uint8Array {
  const utf8 = new TextEncoder();
  const parts: number[] = [];
  const u32 = wireRemaining(remainingMs);
  parts.push(u32 & 0xff, (u32 >>> 8) & 0xff, (u32 >>> 16) & 0xff, u32 >>> 24);
  for (const key of Object.keys(metadata)) {
    const k = utf8.encode(key);
    const v = utf8.encode(metadata[key]!);
    parts.push(k.length, ...k, v.length & 0xff, v.length >>> 8, ...v);
  }
  return Uint8Array.from(parts);
}

// ASCII, two- and three-byte chars, a surrogate pair and lone surrogates (written as U+FFFD).
const CHARS = ['a', 'Z', '0', '-', ' ', '~', '\u007f', 'é', 'ß', '\u07ff', '\u0800', '€', '中', '😀', '\ud800', '\udc00'];

function randomString(random: () => number, max: number): string {
  let s = '';
  const n = below(random, max + 1);
  const ascii = random() < 0.6;
  for (let i = 0; i < n; i++) s += ascii ? String.fromCharCode(32 + below(random, 95)) : pick(random, CHARS);
  return s;
}

describe('encodeCallHead', () => {
  it('writes the bytes the wire format says, for ASCII and other strings, at every length', () => {
    const random = seededRandom(19);
    for (let round = 0; round < 3000; round++) {
      const metadata: Record<string, string> = {};
      const entries = below(random, 5);
      for (let i = 0; i < entries; i++) metadata[randomString(random, 20) || 'k'] = randomString(random, round % 50 === 0 ? 3000 : 80);
      const remainingMs = random() < 0.3 ? undefined : below(random, 100_000);
      const head = encodeCallHead(remainingMs, metadata);
      expect(Buffer.from(head).equals(Buffer.from(reference(remainingMs, metadata)))).toBe(true);
      // Read back as sent, lone surrogates as U+FFFD (what UTF-8 can carry).
      const wellFormed = (x: string) => new TextDecoder().decode(new TextEncoder().encode(x));
      const expected = Object.entries(metadata).map(([k, v]) => [wellFormed(k), wellFormed(v)]);
      expect(Object.entries(decodeCallHead(head, 0, head.length).metadata)).toEqual(expected);
    }
  });

  it('never writes over a head it handed out, across chunks', () => {
    const kept = encodeCallHead(5000, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    const copy = kept.slice();
    for (let i = 0; i < 10_000; i++) encodeCallHead(i, { authorization: `Bearer ${i}`.repeat(3), n: String(i) });
    // One too long for a chunk gets memory of its own.
    const large = encodeCallHead(undefined, { big: 'x'.repeat(65_535), other: 'y'.repeat(10_000) });
    expect(decodeCallHead(large, 0, large.length).metadata.big).toHaveLength(65_535);
    expect(large.buffer).not.toBe(kept.buffer);
    const manyEntries = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, `${i}`.repeat(3000)]));
    expect(Buffer.from(encodeCallHead(250, manyEntries)).equals(Buffer.from(reference(250, manyEntries)))).toBe(true);
    expect(Buffer.from(kept).equals(Buffer.from(copy))).toBe(true);
  });

  it('refuses a bad entry before writing anything, and writes the next head whole', () => {
    expect(() => encodeCallHead(1, { ok: 'v', '': 'empty key' })).toThrow(CallHeadError);
    expect(() => encodeCallHead(1, { ['k'.repeat(256)]: 'v' })).toThrow(/keys are 1\.\.255 bytes/);
    expect(() => encodeCallHead(1, { k: '€'.repeat(21_846) })).toThrow(/exceeds 65535/);
    expect(() => encodeCallHead(1, { k: 3 as unknown as string })).toThrow(/value must be a string/);
    const head = encodeCallHead(7, { a: 'b' });
    expect(Buffer.from(head).equals(Buffer.from(reference(7, { a: 'b' })))).toBe(true);
  });

  it('writes a head begun by a getter while another is written, both whole', () => {
    let inner: Uint8Array | undefined;
    const metadata = {
      a: 'first',
      get b(): string {
        inner = encodeCallHead(3, { inner: 'x'.repeat(100), more: 'é' });
        return 'second';
      },
      c: 'third',
    };
    const outer = encodeCallHead(2, metadata);
    expect(Buffer.from(outer).equals(Buffer.from(reference(2, { a: 'first', b: 'second', c: 'third' })))).toBe(true);
    expect(Buffer.from(inner!).equals(Buffer.from(reference(3, { inner: 'x'.repeat(100), more: 'é' })))).toBe(true);
    const next = encodeCallHead(4, { d: 'fourth' });
    expect(Buffer.from(next).equals(Buffer.from(reference(4, { d: 'fourth' })))).toBe(true);
    expect(Buffer.from(outer).equals(Buffer.from(reference(2, { a: 'first', b: 'second', c: 'third' })))).toBe(true);
  });

  it('writes each value as read once: a getter read again may give another string than the one measured', () => {
    // A value computed per read (a counter, a clock, a Proxy over a context that moved on):
    // the head carries one of the strings it gave, whole, never one's length with another's chars.
    for (const [first, then] of [['9', '10'], ['a-much-longer-value', 'short'], ['abc', 'é€中']]) {
      let reads = 0;
      const metadata = {
        get 'x-request'(): string {
          return reads++ === 0 ? first! : then!;
        },
      };
      const head = encodeCallHead(1, metadata);
      const sent = decodeCallHead(head, 0, head.length).metadata['x-request'];
      expect([first, then]).toContain(sent);
    }
  });
});
