import type { OptionalFields } from './optional-fields.js';

/**
 * `{ ...defaults, ...given }`, but a field of `given` that is `undefined` keeps the default: a
 * caller that hands on a setting it may not have (`{ maxMs: cfg.backoffMaxMs }`, allowed by
 * `OptionalFields`) means "not given", where a spread would put `undefined` over the default.
 * Other keys are copied as a spread copies them (the checks after it still see a stray one).
 * Run once per options object (a pool's, a server's), not per call.
 */
export function withDefaults<T extends object>(defaults: Readonly<T>, given: OptionalFields<T> | undefined): T {
  if (given === undefined || given === null) return { ...defaults } as T;
  const set = Object.entries(given).filter(([, value]) => value !== undefined);
  return { ...defaults, ...Object.fromEntries(set) } as T;
}
