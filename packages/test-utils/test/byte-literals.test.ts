import { describe, expect, it } from 'vitest';
import { fromHex, hex, u32be } from '../src/index.js';

describe('fromHex', () => {
  it('reads the bytes a hex string spells, white space between them allowed, as hex writes them', () => {
    expect(fromHex('254d 01\n  00ff')).toEqual(Uint8Array.of(0x25, 0x4d, 0x01, 0x00, 0xff));
    expect(hex(fromHex('00 7F ab'))).toBe('007fab');
    expect(fromHex('')).toEqual(new Uint8Array(0));
  });

  it('gives a plain Uint8Array, not a Buffer (toEqual tells them apart)', () => {
    expect(Object.getPrototypeOf(fromHex('01'))).toBe(Uint8Array.prototype);
  });

  it('throws on a typo or half a byte, where Buffer would hand back the bytes before it', () => {
    expect(() => fromHex('01 0g 02')).toThrow(/not hex bytes/);
    expect(() => fromHex('010')).toThrow(/not hex bytes/);
  });
});

describe('u32be', () => {
  it('writes n as four big-endian bytes', () => {
    expect(u32be(0x01020304)).toEqual([1, 2, 3, 4]);
    expect(u32be(0xffff_ffff)).toEqual([255, 255, 255, 255]);
    expect(u32be(1001)).toEqual([0, 0, 3, 233]);
  });
});
