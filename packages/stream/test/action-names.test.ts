import { describe, expect, it } from 'vitest';
import { ActionNames } from '../src/wire/action-names.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

/** Counts the lookups that had to decode (misses). */
class CountingNames extends ActionNames {
  misses = 0;
  protected override remember(slot: number, b: Uint8Array, from: number, to: number): string {
    this.misses++;
    return super.remember(slot, b, from, to);
  }
}

describe('ActionNames', () => {
  it('decodes the same bytes to the same name, across more names than it remembers', () => {
    const names = new ActionNames();
    const all = Array.from({ length: 40 }, (_, i) => `Svc.m${i}`);
    for (let round = 0; round < 3; round++) for (const n of all) expect(names.decode(utf8(n))).toBe(n);
  });

  it('reads a leading U+FEFF as the character it is, cached or not, and refuses bytes that are not UTF-8', () => {
    const names = new ActionNames();
    for (const n of ['\uFEFFSvc.m', '\uFEFF' + 'S'.repeat(200) + '.m']) for (let round = 0; round < 2; round++) expect(names.decode(utf8(n))).toBe(n);
    expect(names.decode(utf8('Svc.m'))).toBe('Svc.m');
    expect(() => names.decode(new Uint8Array([0x53, 0xff, 0x2e, 0x6d]))).toThrow(TypeError);
  });

  it('is not fooled by a received buffer changing after it was cached', () => {
    const names = new ActionNames();
    const b = utf8('Calc.add');
    expect(names.decode(b)).toBe('Calc.add');
    b.set(utf8('Calc.sub'));
    expect(names.decode(b)).toBe('Calc.sub');
  });

  it('reads only the bytes it is given: the message after the name is not part of it', () => {
    const names = new ActionNames();
    expect(names.decode(utf8('Calc.addXYZ'), 0, 8)).toBe('Calc.add');
    expect(names.decode(utf8('Calc.add{}'), 0, 8)).toBe('Calc.add');
    expect(names.decode(utf8('Calc.addi'), 0, 9)).toBe('Calc.addi');
    expect(names.decode(utf8('Calc.addi'), 0, 8)).toBe('Calc.add');
  });

  it('reads a name where it lies in a chunk, and knows it again at another place', () => {
    const names = new CountingNames();
    expect(names.decode(utf8('header..Calc.add{}'), 8, 16)).toBe('Calc.add');
    expect(names.decode(utf8('h.Calc.add'), 2, 10)).toBe('Calc.add');
    expect(names.misses).toBe(1);
    // Same length and hash bytes at the other place, one byte different: not the cached name.
    expect(names.decode(utf8('h.Calc.aod'), 2, 10)).toBe('Calc.aod');
    expect(names.decode(utf8('xxxxCalc.add'), 4)).toBe('Calc.add');
  });

  it('decodes multi-byte names and rejects invalid UTF-8', () => {
    const names = new ActionNames();
    expect(names.decode(utf8('Räkna.lägg'))).toBe('Räkna.lägg');
    expect(() => names.decode(new Uint8Array([0x41, 0xff]))).toThrow(TypeError);
    expect(() => names.decode(new Uint8Array(200).fill(0xc3))).toThrow(TypeError);
  });

  it('keeps a service of 40 methods called in rotation cached: after the first round, no decode', () => {
    const names = new CountingNames();
    const all = Array.from({ length: 40 }, (_, i) => `Svc.m${i}`);
    for (const n of all) expect(names.decode(utf8(n))).toBe(n);
    expect(names.misses).toBe(40);
    for (let round = 0; round < 3; round++) for (const n of all) expect(names.decode(utf8(n))).toBe(n);
    expect(names.misses).toBe(40);
  });

  it('decodes a name again right away only once', () => {
    const names = new CountingNames();
    for (let i = 0; i < 5; i++) expect(names.decode(utf8('Räkna.lägg'))).toBe('Räkna.lägg');
    expect(names.misses).toBe(1);
  });

  it('tells apart names that share a slot, and does not cache an invalid name', () => {
    const names = new CountingNames();
    // 'Calc.sub' and 'Calc.mod' share a slot: each evicts the other, and each still decodes right.
    for (let i = 0; i < 3; i++) {
      expect(names.decode(utf8('Calc.sub'))).toBe('Calc.sub');
      expect(names.decode(utf8('Calc.mod'))).toBe('Calc.mod');
    }
    const bad = new Uint8Array([0x41, 0xff]);
    expect(() => names.decode(bad)).toThrow(TypeError);
    expect(() => names.decode(bad)).toThrow(TypeError);
  });
});
