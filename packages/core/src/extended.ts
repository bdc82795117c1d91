/**
 * `{ ...o, ...patch }` for objects made per call (a call's options with a field changed).
 * Node 20's V8 (11.3) makes a spread that has keys after it, or two spreads, through its runtime:
 * 370–840 ns per object against 40–70 for `Object.assign` (docs/benchmarks.md, "A handler's hop
 * with `{ ctx }`"), which on a handler's hop was a fifth of its CPU. Own enumerable keys are copied as a
 * spread copies them, the patch's last.
 */
export function extended<T extends object, P extends object>(o: T | undefined, patch: P): T & P {
  // `Object.assign` sets keys, and setting "__proto__" on a plain object changes its prototype
  // (or, for a string, does nothing): a spread defines it as an entry. Metadata may have one (a
  // server's record of what a client sent keeps it as data): such rare objects take the spread.
  if ((o !== undefined && Object.hasOwn(o, '__proto__')) || Object.hasOwn(patch, '__proto__')) return { ...o, ...patch } as T & P;
  return Object.assign({}, o, patch) as T & P;
}
