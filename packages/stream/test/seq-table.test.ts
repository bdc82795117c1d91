import { describe, expect, it } from 'vitest';
import { SeqTable } from '../src/internals/seq-table.js';

describe('SeqTable', () => {
  it('finds, removes and counts what it holds', () => {
    const t = new SeqTable<string>();
    t.set(1, 'a');
    t.set(2, 'b');
    expect(t.size).toBe(2);
    expect(t.get(1)).toBe('a');
    expect(t.get(3)).toBeUndefined();
    expect(t.delete(1)).toBe(true);
    expect(t.delete(1)).toBe(false);
    expect(t.get(1)).toBeUndefined();
    expect(t.size).toBe(1);
  });

  it('keeps a slow entry when a ring of newer ones passes it', () => {
    const t = new SeqTable<number>();
    t.set(1, 1);
    // A window of 8 in flight: 1 stays while thousands of others come and go through its slot.
    for (let seq = 2; seq < 5000; seq++) {
      t.set(seq, seq);
      if (seq >= 9) expect(t.delete(seq - 7)).toBe(true);
    }
    expect(t.get(1)).toBe(1);
    expect(t.size).toBe(1 + 7);
    expect(t.delete(1)).toBe(true);
    expect(t.get(1)).toBeUndefined();
    expect(t.values().sort((a, b) => a - b)).toEqual([4993, 4994, 4995, 4996, 4997, 4998, 4999]);
  });

  it('grows past its first slots without losing or mixing up entries', () => {
    const t = new SeqTable<number>();
    for (let seq = 100; seq < 1100; seq++) t.set(seq, seq * 2);
    expect(t.size).toBe(1000);
    for (let seq = 100; seq < 1100; seq++) expect(t.get(seq)).toBe(seq * 2);
    for (let seq = 100; seq < 1100; seq += 2) t.delete(seq);
    expect(t.size).toBe(500);
    expect(t.get(100)).toBeUndefined();
    expect(t.get(101)).toBe(202);
  });

  it('tells seqs that share low bits apart, beyond 32 bits too', () => {
    const t = new SeqTable<string>();
    const big = 2 ** 40 + 5;
    t.set(5, 'small');
    t.set(big, 'big');
    expect(t.get(5)).toBe('small');
    expect(t.get(big)).toBe('big');
    expect(t.get(2 ** 40 + 6)).toBeUndefined();
    t.clear();
    expect(t.size).toBe(0);
    expect(t.get(5)).toBeUndefined();
    expect(t.values()).toEqual([]);
  });
});
