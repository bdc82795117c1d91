import { invalidArgument, MAX_TIMER_MS, type RpcError } from '@skein/core';

/** A positive finite number (a duration, a window, a weight): fractions are fine. */
export function positive(n: number, name: string): number {
  if (!(Number.isFinite(n) && n > 0)) throw invalidArgument(`${name} must be a positive number, got ${n}`);
  return n;
}

/** Zero or a positive finite number (a duration where 0 turns the thing off). */
export function nonNegative(n: number, name: string): number {
  if (!(Number.isFinite(n) && n >= 0)) throw invalidArgument(`${name} must be 0 or a positive number, got ${n}`);
  return n;
}

/** A positive integer (a count of things). */
export function positiveInteger(n: number, name: string): number {
  if (!(Number.isInteger(n) && n > 0)) throw invalidArgument(`${name} must be a positive integer, got ${n}`);
  return n;
}

/** A window told in the hello (a stream's bytes, or reverse calls): a positive integer that fits its u32. */
export function helloU32(n: number, name: string): number {
  if (!(Number.isInteger(n) && n > 0 && n <= 0xffff_ffff)) throw invalidArgument(`${name} must be an integer in 1..${0xffff_ffff}, got ${n}`);
  return n;
}

/** A timer's period or delay, in ms: at least 1, and at most core's MAX_TIMER_MS (past it timers fire at once). */
export function timerMs(n: number, name: string): number {
  if (!(typeof n === 'number' && n >= 1 && n <= MAX_TIMER_MS)) throw invalidArgument(`${name} must be a number of ms in 1..${MAX_TIMER_MS}, got ${n}`);
  return n;
}

/**
 * A call's own `timeoutMs` (checked per call: a bad one must not become a deadline nothing ever
 * reaches), else `fallback`. In whole ms, rounded up (a call never ends before its time): a
 * handler's remaining time passed on to a downstream call has a fraction, and a fraction stored
 * in a call's fields (its timeout, its deadline) that start as small integers would change every
 * call's shape and throw away the optimised code of the per-call path (as the ticked time's,
 * tick-clock.ts).
 */
export function callTimeout(given: number | undefined, fallback: number): number {
  if (given === undefined) return fallback;
  if (typeof given === 'number' && given > 0 && given < Infinity) return Math.ceil(given);
  throw invalidArgument(`timeoutMs must be a positive number, got ${given}`);
}

/**
 * Why a call's `metadata` cannot go, or undefined (none given is fine): it must be a record of
 * strings, and plain JS may pass anything (null failed on the way with a bare TypeError, a
 * string's characters, an array's items went as entries `{ 0: ... }`). One check for every call
 * that carries metadata (a ClientStream's calls and streams, a server's reverse calls, and the
 * carriers above: a typed stream's open, a worker's reverse call), so that each refuses alike;
 * the entries themselves are checked as they are encoded (encodeCallHead).
 */
export function metadataRefusal(metadata: unknown): RpcError | undefined {
  if (metadata === undefined || (typeof metadata === 'object' && metadata !== null && !arrayOrUnreadable(metadata))) return undefined;
  return invalidArgument('metadata must be an object of strings');
}

/**
 * `Array.isArray`, which throws for a revoked Proxy: such metadata is refused as no record, not
 * thrown out of a carrier's `send` (a worker's reverse call failed its handler Internal with it).
 */
function arrayOrUnreadable(v: object): boolean {
  try {
    return Array.isArray(v);
  } catch {
    return true;
  }
}

/** A share of something, in (0, 1]. */
export function fraction(n: number, name: string): number {
  if (!(typeof n === 'number' && n > 0 && n <= 1)) throw invalidArgument(`${name} must be a number in (0, 1], got ${n}`);
  return n;
}

