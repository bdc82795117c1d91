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

  it('reads each value once, also for a head that needs more room than a chunk takes (three bytes a UTF-16 unit)', () => {
    // 25,000 characters: 25 KB written, but 75 KB of room made for them, over a chunk's 64 KiB.
    let reads = 0;
    let inner: Uint8Array | undefined;
    const big = 'x'.repeat(25_000);
    const metadata = {
      get a(): string {
        reads++;
        inner = encodeCallHead(3, { inner: 'made by a getter' });
        return 'first';
      },
      big,
      get c(): string {
        reads++;
        return 'é';
      },
    };
    const head = encodeCallHead(2, metadata);
    expect(reads).toBe(2);
    expect(Buffer.from(head).equals(Buffer.from(reference(2, { a: 'first', big, c: 'é' })))).toBe(true);
    expect(Buffer.from(inner!).equals(Buffer.from(reference(3, { inner: 'made by a getter' })))).toBe(true);
    // The heads after it go on in chunks (its memory is not one: a small head would keep it), and leave it whole.
    expect(encodeCallHead(4, { d: 'fourth' }).buffer.byteLength).toBeLessThanOrEqual(64 * 1024);
    expect(() => encodeCallHead(5, { big, bad: 5 as unknown as string })).toThrow(CallHeadError);
    expect(encodeCallHead(6, { e: 'fifth' }).buffer.byteLength).toBeLessThanOrEqual(64 * 1024);
    const copy = head.slice();
    for (let i = 0; i < 2000; i++) {
      const next = encodeCallHead(i, { n: `${i}`.repeat(20) });
      expect(Buffer.from(next).equals(Buffer.from(reference(i, { n: `${i}`.repeat(20) })))).toBe(true);
    }
    expect(Buffer.from(head).equals(copy)).toBe(true);
  });

  it('refuses a key or a value of more UTF-16 units than its bound has bytes with a CallHeadError, before making room for it', () => {
    // UTF-8 takes at least a byte a unit: such an entry cannot be sent, whatever its characters.
    // Room for these two at three bytes a unit (2 × 3 × 717M, past a typed array's 4 GiB) was a
    // RangeError, which a call threw as it was instead of failing InvalidArgument; cheaper ones
    // cost their six bytes a unit (120 MB for a value of 20M characters) before being refused.
    const value = 'v'.repeat(536_000_000); // under V8's longest string; repeat makes it in no time
    const key = 'k'.repeat(181_000_000);
    const refusal = (metadata: Record<string, string>) => {
      try {
        encodeCallHead(1, metadata);
      } catch (err) {
        return err;
      }
      return undefined;
    };
    const huge = refusal({ [key]: value });
    expect(huge).toBeInstanceOf(CallHeadError);
    expect((huge as Error).message).toBe('metadata key of 181000000 bytes: keys are 1..255 bytes');
    const long = refusal({ k: 'v'.repeat(100_000) });
    expect(long).toBeInstanceOf(CallHeadError);
    expect((long as Error).message).toBe('metadata k: value of 100000 bytes exceeds 65535');
    // The key is checked first; the bytes told are the UTF-8 bytes (a lone surrogate as U+FFFD).
    expect(() => encodeCallHead(1, { ['é'.repeat(200)]: '😀'.repeat(40_000) })).toThrow('metadata key of 400 bytes: keys are 1..255 bytes');
    expect(() => encodeCallHead(1, { k: '😀\ud800é'.repeat(20_000) })).toThrow('metadata k: value of 180000 bytes exceeds 65535');
    const odd = `\udc00${'\ud800\udc00'.repeat(20_000)}\ud800\ud800a€`.repeat(2); // lone surrogates and pairs
    expect(() => encodeCallHead(1, { k: odd })).toThrow(`metadata k: value of ${new TextEncoder().encode(odd).length} bytes exceeds 65535`);
    const head = encodeCallHead(7, { a: 'b' });
    expect(Buffer.from(head).equals(Buffer.from(reference(7, { a: 'b' })))).toBe(true);
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
