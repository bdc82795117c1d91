import { describe, expect, it } from 'vitest';
import { withDefaults } from '../src/index.js';

interface Backoff {
  initialMs: number;
  maxMs: number;
  multiplier: number;
}
const DEFAULTS: Readonly<Backoff> = Object.freeze({ initialMs: 100, maxMs: 5_000, multiplier: 2 });

describe('withDefaults', () => {
  it('keeps the default of a field given as undefined, as of one left out (a spread put undefined there)', () => {
    expect(withDefaults(DEFAULTS, { maxMs: undefined, multiplier: 3 })).toEqual({ initialMs: 100, maxMs: 5_000, multiplier: 3 });
    expect(withDefaults(DEFAULTS, {})).toEqual(DEFAULTS);
    expect(withDefaults(DEFAULTS, undefined)).toEqual(DEFAULTS);
  });

  it('copies any other value as a spread does: null, a stray key (for the checks after it to refuse), a __proto__ entry as data', () => {
    const given = JSON.parse('{"maxMs": null, "maxMss": 7, "__proto__": {"polluted": true}}') as Record<string, unknown>;
    const out = withDefaults(DEFAULTS, given) as unknown as Record<string, unknown>;
    expect(out).toMatchObject({ initialMs: 100, maxMs: null, maxMss: 7 });
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(out.polluted).toBeUndefined();
    // An unknown key stays though undefined: a typo is refused whatever the value it hands on.
    expect(Object.hasOwn(withDefaults(DEFAULTS, { maxMss: undefined } as never), 'maxMss')).toBe(true);
  });

  it('returns a fresh object, leaving the defaults and what was given as they were', () => {
    const given = { maxMs: 10 };
    const out = withDefaults(DEFAULTS, given);
    expect(out).not.toBe(DEFAULTS);
    expect(given).toEqual({ maxMs: 10 });
    expect(DEFAULTS).toEqual({ initialMs: 100, maxMs: 5_000, multiplier: 2 });
  });
});
