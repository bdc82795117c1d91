import type { OptionalFields } from './optional-fields.js';

/**
 * `{ ...defaults, ...given }`, but a field of `given` that is `undefined` keeps the default: a
 * caller that hands on a setting it may not have (`{ maxMs: cfg.backoffMaxMs }`, allowed by
 * `OptionalFields`) means "not given", where a spread would put `undefined` over the default.
 * Other keys are copied as a spread copies them, undefined too (the checks after it still see a
 * stray one).
 * Run once per options object (a pool's, a server's), not per call.
 */
export function withDefaults<T extends object>(defaults: Readonly<T>, given: OptionalFields<T> | undefined): T {
  if (given === undefined || given === null) return { ...defaults } as T;
  const out: Record<PropertyKey, unknown> = { ...defaults, ...given };
  // Only a known key left undefined keeps its default: an unknown one stays for the checks after
  // it to refuse (`maxMesage: cfg.x` is a typo whatever `cfg.x` holds).
  for (const key of Object.keys(defaults)) if (out[key] === undefined) out[key] = (defaults as Record<string, unknown>)[key];
  return out as T;
}
