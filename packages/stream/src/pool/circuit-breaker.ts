import { ErrorCode, RpcError, withDefaults, type Clock, type OptionalFields } from '@skein/core';
import { fraction, positiveInteger, timerMs } from '../internals/checks.js';
import { isUnanswered } from '../internals/unanswered-mark.js';

export interface CircuitBreakerOptions {
  /** The breaker opens when at least this share of the calls in the window failed. Default 0.5. */
  failureRatio: number;
  /** ...and the window holds at least this many calls. Default 20. */
  minCalls: number;
  /** The window calls are counted over, in ms (ten slots of a tenth each). Default 10 s. */
  windowMs: number;
  /** How long an open breaker refuses calls before it lets probes through (half-open). Default 5 s. */
  openMs: number;
  /** Probe calls let through while half-open; all must succeed to close, one failure opens again. Default 3. */
  halfOpenCalls: number;
}

export const DEFAULT_CIRCUIT_BREAKER: Readonly<CircuitBreakerOptions> = { failureRatio: 0.5, minCalls: 20, windowMs: 10_000, openMs: 5_000, halfOpenCalls: 3 };

export type CircuitState = 'closed' | 'open' | 'half-open';

/** Checks the options once for every server's breaker; throws InvalidArgument naming the bad one. */
export function circuitBreakerOptions(opts: OptionalFields<CircuitBreakerOptions>): CircuitBreakerOptions {
  const o = withDefaults<CircuitBreakerOptions>(DEFAULT_CIRCUIT_BREAKER, opts);
  return {
    failureRatio: fraction(o.failureRatio, 'circuitBreaker.failureRatio'),
    minCalls: positiveInteger(o.minCalls, 'circuitBreaker.minCalls'),
    windowMs: timerMs(o.windowMs, 'circuitBreaker.windowMs'),
    openMs: timerMs(o.openMs, 'circuitBreaker.openMs'),
    halfOpenCalls: positiveInteger(o.halfOpenCalls, 'circuitBreaker.halfOpenCalls'),
  };
}

/**
 * Errors that say the server is sick, as opposed to the call being wrong: it could not be
 * reached, the connection broke, it did not answer in time, it shed load, or its handler
 * crashed. A method's own errors, bad input, cancellation and a server draining for a restart
 * (Closed) say nothing about its health; nor does the end of the call a call was made for (its
 * abort source's deadline or handler timeout: a Timeout with `retry: 'never'`, client/call.ts's
 * `sourceEnded`) before the call was sent, nor its signal's timeout (`cancelled`: the caller's
 * budget, a cancel in all but its code, never marked). One its server had, unanswered, counts as its own
 * Timeout would (see unanswered-mark.ts): else a server that hangs, reached only by calls made
 * with `{ ctx }`, was never seen slow.
 */
export function countsAgainstServer(err: Error): boolean {
  if (!(err instanceof RpcError)) return false;
  const c = err.code;
  if (c === ErrorCode.Timeout) return err.retry !== 'never' || isUnanswered(err);
  return c === ErrorCode.Unreachable || c === ErrorCode.IO || c === ErrorCode.Overloaded || c === ErrorCode.Internal;
}

const SLOTS = 10;
/** Successes are slotted by a clock read every this many calls (failures read it each time). */
const READ_EVERY = 64;

/**
 * One server's breaker. Closed, it counts calls and failures over a sliding window of ten
 * slots; at `minCalls` calls and a failure share of `failureRatio` it opens: the pool sends the
 * server nothing for `openMs`. Then it lets `halfOpenCalls` probes through: all succeed and it
 * closes (counting afresh), one fails and it opens again.
 */
export class CircuitBreaker {
  private _state: CircuitState = 'closed';
  private readonly calls = new Float64Array(SLOTS);
  private readonly failures = new Float64Array(SLOTS);
  private slotAt = -Infinity;
  private slot = 0;
  private untilRead = 0;
  private reopenAt = 0;
  private probes = 0;
  private probesPassed = 0;
  /** Half-open rounds so far: a probe given up on frees its place only in the round it took it. */
  private round = 0;

  constructor(
    private readonly opts: CircuitBreakerOptions,
    private readonly clock: Clock,
    /** Told of every change of state, with what led to it. */
    private readonly changed: (state: CircuitState, why: string) => void,
  ) {}

  get state(): CircuitState {
    return this._state;
  }

  /** True when a call may go to the server now. Reads the clock only while open. */
  admits(): boolean {
    if (this._state === 'closed') return true;
    if (this._state === 'open') {
      if (this.clock.now() < this.reopenAt) return false;
      this.probes = 0;
      this.probesPassed = 0;
      this.round++;
      this.move('half-open', `open for ${this.opts.openMs} ms: letting ${this.opts.halfOpenCalls} probe call(s) through`);
    }
    return this.probes < this.opts.halfOpenCalls;
  }

  /** A call was sent to the server (after `admits`); returns the round of the probe it is, if it is one. */
  sent(): number | undefined {
    if (this._state !== 'half-open') return undefined;
    this.probes++;
    return this.round;
  }

  /**
   * A probe of `round` is no longer waited for (a stream that said nothing yet): its place goes
   * to another probe. Its outcome, should it come, still counts as any call's.
   */
  release(round: number): void {
    if (this._state === 'half-open' && round === this.round && this.probes > 0) this.probes--;
  }

  succeeded(): void {
    if (this._state === 'closed') {
      this.calls[this.currentSlot(false)]! += 1;
    } else if (this._state === 'half-open' && ++this.probesPassed >= this.opts.halfOpenCalls) {
      this.reset();
      this.move('closed', `${this.probesPassed} probe call(s) succeeded`);
    }
  }

  failed(): void {
    if (this._state === 'half-open') return this.open('a probe call failed');
    if (this._state !== 'closed') return;
    const s = this.currentSlot(true);
    this.calls[s]! += 1;
    this.failures[s]! += 1;
    const calls = sum(this.calls);
    const failures = sum(this.failures);
    if (calls >= this.opts.minCalls && failures >= this.opts.failureRatio * calls) {
      this.open(`${failures} of ${calls} calls failed in ${this.opts.windowMs} ms`);
    }
  }

  private open(why: string): void {
    this.reopenAt = this.clock.now() + this.opts.openMs;
    this.reset();
    this.move('open', why);
  }

  private reset(): void {
    this.calls.fill(0);
    this.failures.fill(0);
  }

  private move(state: CircuitState, why: string): void {
    this._state = state;
    this.changed(state, why);
  }

  /** The slot of now, clearing slots that left the window; successes read the clock once per READ_EVERY. */
  private currentSlot(readNow: boolean): number {
    if (!readNow && --this.untilRead > 0) return this.slot;
    this.untilRead = READ_EVERY;
    const width = this.opts.windowMs / SLOTS;
    const at = Math.floor(this.clock.now() / width);
    if (at > this.slotAt) {
      const from = Math.max(this.slotAt + 1, at - SLOTS + 1);
      for (let i = from; i <= at; i++) {
        this.calls[i % SLOTS] = 0;
        this.failures[i % SLOTS] = 0;
      }
      this.slotAt = at;
      this.slot = at % SLOTS;
    }
    return this.slot;
  }
}

function sum(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}
