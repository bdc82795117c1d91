import { invalidArgument, withDefaults, type Clock, type OptionalFields } from '@skein/core';

export interface RetryBudgetOptions {
  /** Retry tokens each first attempt earns. Default 0.1: retries add at most 10 % to the load. */
  ratio: number;
  /** Retries always allowed per second, even with no traffic to earn them. Default 10. */
  minRetriesPerSecond: number;
}

export const DEFAULT_RETRY_BUDGET: Readonly<RetryBudgetOptions> = { ratio: 0.1, minRetriesPerSecond: 10 };

/** How long earned tokens last, in one-second slots. */
const WINDOW_SECONDS = 10;

/**
 * A token bucket for retries whose tokens last WINDOW_SECONDS: each first attempt deposits
 * `ratio` tokens, each retry withdraws one, and a floor of `minRetriesPerSecond` per second
 * of the window is always there. When the bucket is empty a failed call is not retried, so
 * a sick cluster gets at most (1 + ratio)× its normal load instead of (1 + retries)×.
 * Tokens expire so that a long healthy spell cannot bank an unbounded burst of retries.
 */
export class RetryBudget {
  private readonly ratio: number;
  private readonly reserve: number;
  private readonly deposits = new Float64Array(WINDOW_SECONDS);
  private readonly withdrawals = new Float64Array(WINDOW_SECONDS);
  private second = -Infinity;
  private depositSlot = 0;
  private untilClock = 0;

  constructor(
    opts: OptionalFields<RetryBudgetOptions> = {},
    private readonly clock: Clock,
  ) {
    const { ratio, minRetriesPerSecond } = withDefaults<RetryBudgetOptions>(DEFAULT_RETRY_BUDGET, opts);
    if (!(ratio >= 0 && Number.isFinite(ratio))) throw invalidArgument(`retryBudget.ratio must be a non-negative number, got ${ratio}`);
    if (!(minRetriesPerSecond >= 0 && Number.isFinite(minRetriesPerSecond))) {
      throw invalidArgument(`retryBudget.minRetriesPerSecond must be a non-negative number, got ${minRetriesPerSecond}`);
    }
    this.ratio = ratio;
    this.reserve = minRetriesPerSecond * WINDOW_SECONDS;
  }

  /**
   * A first attempt: earns `ratio` tokens. The clock is read once per 64 deposits, not per call;
   * at rates where that matters a deposit may land in the previous second's slot, which only
   * ages it sooner (a smaller budget, never a larger one).
   */
  deposit(): void {
    if (--this.untilClock <= 0) {
      this.depositSlot = this.slot();
      this.untilClock = 64;
    }
    this.deposits[this.depositSlot]! += 1;
  }

  /** Tokens available now. */
  get balance(): number {
    this.slot();
    return this.ratio * sum(this.deposits) + this.reserve - sum(this.withdrawals);
  }

  /** Takes one token for a retry; false (and takes nothing) when there is none. */
  tryWithdraw(): boolean {
    if (this.balance < 1) return false;
    this.withdrawals[this.slot()]! += 1;
    return true;
  }

  /** The slot of the current second, clearing the slots of seconds that left the window. */
  private slot(): number {
    const now = Math.floor(this.clock.now() / 1000);
    if (now > this.second) {
      // The cached deposit slot belongs to an older second now: look again at the next deposit.
      this.untilClock = 0;
      if (now - this.second >= WINDOW_SECONDS) {
        this.deposits.fill(0);
        this.withdrawals.fill(0);
      } else {
        for (let s = this.second + 1; s <= now; s++) {
          this.deposits[mod(s, WINDOW_SECONDS)] = 0;
          this.withdrawals[mod(s, WINDOW_SECONDS)] = 0;
        }
      }
      this.second = now;
    }
    return mod(this.second, WINDOW_SECONDS);
  }
}

function sum(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}

const mod = (n: number, m: number): number => ((n % m) + m) % m;
