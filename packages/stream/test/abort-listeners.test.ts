import { describe, expect, it } from 'vitest';
import { AbortListeners } from '../src/internals/abort-listeners.js';

describe('AbortListeners', () => {
  it('tells each listener once, in the order they came, however often it was added', () => {
    const told: string[] = [];
    const all = new AbortListeners();
    const a = (r: unknown) => told.push(`a:${String(r)}`);
    const b = (r: unknown) => told.push(`b:${String(r)}`);
    all.add(a);
    all.add(b);
    all.add(a);
    expect(all.size).toBe(3);
    all.fire('why');
    all.fire('again');
    expect(told).toEqual(['a:why', 'b:why']);
    expect(all.size).toBe(0);
  });

  it('tells no listener that was unhooked, and an unhook called twice counts once', () => {
    const told: number[] = [];
    const all = new AbortListeners();
    const unhooks = [1, 2, 3, 4].map((n) => all.add(() => told.push(n)));
    unhooks[0]!();
    unhooks[2]!();
    unhooks[2]!();
    unhooks[3]!();
    expect(all.size).toBe(1);
    const last = all.add(() => told.push(5));
    expect(all.size).toBe(2);
    all.fire(undefined);
    expect(told).toEqual([2, 5]);
    // After the fire: nothing left to unhook, nothing more added.
    last();
    expect(all.add(() => told.push(6))()).toBeUndefined();
    expect(all.size).toBe(0);
    expect(told).toEqual([2, 5]);
  });

  it('each add has its own unhook: one of two adds of a listener unhooked, it is still told, once', () => {
    let told = 0;
    const all = new AbortListeners();
    const l = () => told++;
    const first = all.add(l);
    all.add(l);
    first();
    expect(all.size).toBe(1);
    all.fire(undefined);
    expect(told).toBe(1);
  });

  it('a listener that unhooks a later one, or the one before it, while they are told', () => {
    const told: string[] = [];
    const all = new AbortListeners();
    let unhookC = () => {};
    let unhookA = () => {};
    unhookA = all.add(() => told.push('a'));
    all.add(() => {
      told.push('b');
      unhookC();
      unhookA();
    });
    unhookC = all.add(() => told.push('c'));
    all.add(() => told.push('d'));
    all.fire(undefined);
    expect(told).toEqual(['a', 'b', 'd']);
    expect(all.size).toBe(0);
  });

  it('unhooks from the middle, the head and the tail, and keeps the rest in order through many hooks', () => {
    const all = new AbortListeners();
    const told: number[] = [];
    const live = new Map<number, () => void>();
    // A connection's plain calls: hooked and unhooked out of order, a few hundred at a time.
    for (let i = 0; i < 5000; i++) {
      live.set(i, all.add(() => told.push(i)));
      if (i % 3 !== 0) {
        const victim = [...live.keys()][(i * 7) % live.size]!;
        live.get(victim)!();
        live.delete(victim);
      }
    }
    expect(all.size).toBe(live.size);
    all.fire(undefined);
    expect(told).toEqual([...live.keys()].sort((x, y) => x - y));
  });
});
