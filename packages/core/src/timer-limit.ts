import { invalidArgument } from './rpc-error.js';

/**
 * The longest delay or period a timer holds: past it Node, Bun and Deno fire at once (and an
 * interval then goes on every 1 ms).
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `ms` when a timer can run at that period; InvalidArgument when not: NaN, zero or less (a timer
 * would spin every 1 ms), or past MAX_TIMER_MS (it would fire at once). Every Clock checks with
 * it, so that no caller's period turns silently into a spin.
 */
export function timerPeriod(ms: number): number {
  if (!(typeof ms === 'number' && ms > 0 && ms <= MAX_TIMER_MS)) throw invalidArgument(`a timer's period must be a number of ms above 0 and at most ${MAX_TIMER_MS}, got ${ms}`);
  return ms;
}

/** A timeout's timer: one past what a timer holds is capped there (24.8 days is never, in practice). */
export const connectTimerMs = (timeoutMs: number): number => Math.min(timeoutMs, MAX_TIMER_MS);
