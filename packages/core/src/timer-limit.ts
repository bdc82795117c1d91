import { invalidArgument } from './rpc-error.js';

/**
 * The longest delay or period a timer holds: past it Node, Bun and Deno fire at once (and an
 * interval then goes on every 1 ms).
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `ms` when a timer can run at that period; InvalidArgument when not: NaN, zero or less (a timer
 * would spin every 1 ms), or past MAX_TIMER_MS (it would fire at once). Every Clock checks with
 * it, so that no caller's period turns silently into a spin; an option checked with it is named
 * by `what` (`EtcdDiscovery: checkEveryMs`).
 */
export function timerPeriod(ms: number, what = "a timer's period"): number {
  if (!(typeof ms === 'number' && ms > 0 && ms <= MAX_TIMER_MS)) throw invalidArgument(`${what} must be a number of ms above 0 and at most ${MAX_TIMER_MS}, got ${ms}`);
  return ms;
}

/** A timeout's timer: one past what a timer holds is capped there (24.8 days is never, in practice). */
export const connectTimerMs = (timeoutMs: number): number => Math.min(timeoutMs, MAX_TIMER_MS);

/**
 * The TLS handshake's timer once TCP is up, `connectedAfterMs` into a connect of `timeoutMs`:
 * what the connect's budget has left, unless `handshakeTimeoutMs` is shorter (one budget for TCP
 * and TLS), and the failure's words for whichever bound it is. Shared by every runtime's connect.
 */
export function handshakeTimer(timeoutMs: number, connectedAfterMs: number, handshakeTimeoutMs: number): { ms: number; why: string } {
  const left = Math.max(0, timeoutMs - connectedAfterMs);
  return left < handshakeTimeoutMs
    ? { ms: connectTimerMs(left), why: `no connection within ${timeoutMs} ms (TCP up, TLS handshake not done)` }
    : { ms: connectTimerMs(handshakeTimeoutMs), why: `TLS handshake not done within ${handshakeTimeoutMs} ms` };
}
