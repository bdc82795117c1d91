import { describe, expect, it } from 'vitest';
import { CallHeadError, DEFAULT_MAX_HEAD, decodeCallHead, encodeCallHead } from '../src/wire/call-head.js';
import { RecentStrings } from '../src/wire/recent-strings.js';

/** Counts the strings that had to be decoded (not found at their place). */
class CountingStrings extends RecentStrings {
  decoded = 0;
  protected override decode(b: Uint8Array, from: number, to: number): string {
    this.decoded++;
    return super.decode(b, from, to);
  }
}

/** Weighs the strings kept (one byte a character: they are ASCII). */
class WeighedStrings extends RecentStrings {
  weight(): number {
    return this.strings.reduce((n, s) => n + s.length, 0);
  }
}

const head = (metadata: Record<string, string>) => encodeCallHead(undefined, metadata).slice();
const read = (b: Uint8Array, recent: RecentStrings) => ({ ...decodeCallHead(b, 0, b.length, recent).metadata });

describe("RecentStrings: a connection's last head, compared before decoding", () => {
  it('decodes a head sent again not at all, and only the value that changed', () => {
    const recent = new CountingStrings();
    const md = { authorization: 'Bearer abc.def.ghi', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    expect(read(head(md), recent)).toEqual(md);
    expect(recent.decoded).toBe(4);
    expect(read(head(md), recent)).toEqual(md);
    expect(recent.decoded).toBe(4);
    const next = { ...md, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203332-01' };
    expect(read(head(next), recent)).toEqual(next);
    expect(recent.decoded).toBe(5);
  });

  it("reads bytes of the kept string's length that differ, in a key or a value, as what they are", () => {
    const recent = new RecentStrings();
    expect(read(head({ 'x-a': 'token-aaaa' }), recent)).toEqual({ 'x-a': 'token-aaaa' });
    expect(read(head({ 'x-b': 'token-aaab' }), recent)).toEqual({ 'x-b': 'token-aaab' });
    expect(read(head({ 'x-b': 'Token-aaab' }), recent)).toEqual({ 'x-b': 'Token-aaab' });
  });

  it('never takes UTF-8 for a kept ASCII string of as many bytes, and still refuses bytes that are not UTF-8', () => {
    const recent = new RecentStrings();
    expect(read(head({ k: 'abcd' }), recent)).toEqual({ k: 'abcd' });
    // 'é' is two bytes: "aéb" is four, as "abcd" is.
    expect(read(head({ k: 'aéb' }), recent)).toEqual({ k: 'aéb' });
    expect(read(head({ k: 'abcd' }), recent)).toEqual({ k: 'abcd' });
    const bad = head({ k: 'abcd' });
    bad[bad.length - 1] = 0xff;
    expect(() => decodeCallHead(bad, 0, bad.length, recent)).toThrow(CallHeadError);
    expect(read(head({ k: 'abcd' }), recent)).toEqual({ k: 'abcd' });
  });

  it('reads a head of more entries than it keeps, and one that moves its entries about', () => {
    const recent = new CountingStrings();
    const many = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`key-${i}`, `value-${i}`]));
    expect(read(head(many), recent)).toEqual(many);
    expect(read(head(many), recent)).toEqual(many);
    // Eight entries kept (16 places): the four after them are decoded each time.
    expect(recent.decoded).toBe(24 + 8);
    const reversed = Object.fromEntries(Object.entries(many).reverse());
    expect(Object.entries(read(head(reversed), recent))).toEqual(Object.entries(reversed));
  });

  it('keeps nothing from a non-ASCII string, and decodes it each time', () => {
    const recent = new CountingStrings();
    for (let i = 0; i < 3; i++) expect(read(head({ name: 'Zoë' }), recent)).toEqual({ name: 'Zoë' });
    expect(recent.decoded).toBe(1 + 3);
    // Were 'é' kept (one char, code 0xe9), the lone byte 0xe9 (not UTF-8) would pass as it.
    expect(read(head({ name: 'é' }), recent)).toEqual({ name: 'é' });
    const lone = head({ name: 'x' });
    lone[lone.length - 1] = 0xe9;
    expect(() => decodeCallHead(lone, 0, lone.length, recent)).toThrow(CallHeadError);
  });

  it("keeps at most the last head's strings: heads of fewer entries, a string not kept, a head refused, each lets go of what was there", () => {
    const recent = new WeighedStrings();
    // A peer's heads, each under the server's 8 KiB, each an entry shorter than the one before
    // and its last value long: kept by place, they would pile up eight heads' worth.
    for (let entries = 8; entries >= 1; entries--) {
      const md = Object.fromEntries(Array.from({ length: entries }, (_, i) => [`k${i}`, i === entries - 1 ? `${entries}`.repeat(7000) : 'v']));
      const b = head(md);
      expect(b.length).toBeLessThanOrEqual(DEFAULT_MAX_HEAD);
      expect(read(b, recent)).toEqual(md);
      expect(recent.weight()).toBeLessThanOrEqual(b.length);
    }
    // A value that is not ASCII is not kept, and neither is the one at its place before it.
    expect(read(head({ k0: 'é'.repeat(3000) }), recent)).toEqual({ k0: 'é'.repeat(3000) });
    expect(recent.weight()).toBe('k0'.length);
    // A head refused halfway keeps nothing of the head before it either.
    expect(read(head({ a: 'v', b: 'x'.repeat(7000) }), recent)).toEqual({ a: 'v', b: 'x'.repeat(7000) });
    const bad = head({ a: 'w' });
    bad[bad.length - 1] = 0xff;
    expect(() => decodeCallHead(bad, 0, bad.length, recent)).toThrow(CallHeadError);
    expect(recent.weight()).toBeLessThanOrEqual(bad.length);
    // And what is kept is still read back, as it was sent.
    const md = { authorization: 'Bearer abc', tenant: 't1' };
    expect(read(head(md), recent)).toEqual(md);
    expect(read(head(md), recent)).toEqual(md);
    expect(recent.weight()).toBe('authorizationBearer abctenantt1'.length);
  });
});
