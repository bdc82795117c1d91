import { invalidArgument, withDefaults, type OptionalFields } from '@skein/core';
import { positive, timerMs } from '../internals/checks.js';

export interface BackoffOptions {
  /** The ceiling of the first delay. Default 100 ms. */
  initialMs: number;
  /** The largest ceiling. Default 5 s. */
  maxMs: number;
  /** How much the ceiling grows per failed attempt. Default 2. */
  multiplier: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = { initialMs: 100, maxMs: 5_000, multiplier: 2 };

/**
 * Checks backoff options and fills in defaults; throws InvalidArgument naming the bad one.
 * `prefix` names where the options sit (`pool.`, for a FailoverPool's servers' pools).
 */
export function backoffOptions(opts: OptionalFields<BackoffOptions> = {}, prefix = ''): BackoffOptions {
  const o = withDefaults<BackoffOptions>(DEFAULT_BACKOFF, opts);
  const { initialMs, maxMs, multiplier } = o;
  positive(initialMs, `${prefix}backoff.initialMs`);
  // A delay is a timer's: past 2^31 - 1 ms it would fire at once.
  timerMs(maxMs, `${prefix}backoff.maxMs`);
  if (!(maxMs >= initialMs)) throw invalidArgument(`${prefix}backoff.maxMs must be at least initialMs (${initialMs}), got ${maxMs}`);
  if (!(Number.isFinite(multiplier) && multiplier >= 1)) throw invalidArgument(`${prefix}backoff.multiplier must be a finite number of at least 1, got ${multiplier}`);
  return o;
}

/**
 * Exponential backoff with full jitter: the n-th delay is uniform in [0, min(maxMs, initialMs ·
 * multiplier^n)). Clients that lost the same server at the same moment spread their reconnects
 * over the whole window instead of arriving together (no reconnect storm).
 */
export class Backoff {
  private readonly opts: BackoffOptions;
  private failures = 0;

  constructor(
    opts: OptionalFields<BackoffOptions> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.opts = backoffOptions(opts);
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** The delay before the next attempt; counts one more failure. */
  next(): number {
    const { initialMs, maxMs, multiplier } = this.opts;
    // Capped before exponentiating far: multiplier^failures could overflow to Infinity.
    const ceiling = Math.min(maxMs, initialMs * multiplier ** Math.min(this.failures, 64));
    this.failures++;
    return this.random() * ceiling;
  }

  reset(): void {
    this.failures = 0;
  }
}
