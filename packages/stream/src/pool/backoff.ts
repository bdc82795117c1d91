import { invalidArgument } from '@skein/core';
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
 * Exponential backoff with full jitter: the n-th delay is uniform in [0, min(maxMs, initialMs ·
 * multiplier^n)). Clients that lost the same server at the same moment spread their reconnects
 * over the whole window instead of arriving together (no reconnect storm).
 */
export class Backoff {
  private readonly opts: BackoffOptions;
  private failures = 0;

  constructor(
    opts: Partial<BackoffOptions> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.opts = { ...DEFAULT_BACKOFF, ...opts };
    const { initialMs, maxMs, multiplier } = this.opts;
    positive(initialMs, 'backoff.initialMs');
    // A delay is a timer's: past 2^31 - 1 ms it would fire at once.
    timerMs(maxMs, 'backoff.maxMs');
    if (!(maxMs >= initialMs)) throw invalidArgument(`backoff.maxMs must be at least initialMs (${initialMs}), got ${maxMs}`);
    if (!(Number.isFinite(multiplier) && multiplier >= 1)) throw invalidArgument(`backoff.multiplier must be a finite number of at least 1, got ${multiplier}`);
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
