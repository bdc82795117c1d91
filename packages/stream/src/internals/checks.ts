import { invalidArgument } from '@skein/core';

/** A positive finite number (a duration, a window, a weight): fractions are fine. */
export function positive(n: number, name: string): number {
  if (!(Number.isFinite(n) && n > 0)) throw invalidArgument(`${name} must be a positive number, got ${n}`);
  return n;
}

/** A positive integer (a count of things). */
export function positiveInteger(n: number, name: string): number {
  if (!(Number.isInteger(n) && n > 0)) throw invalidArgument(`${name} must be a positive integer, got ${n}`);
  return n;
}
