import { ErrorCode, MAX_TIMER_MS, RpcError, extended, signalTimedOut, withoutStack } from '@skein/core';
import type { CallInfo, FilterWatch } from './filters.js';
import { callerTimeoutMs, type AbortSource, type Caller } from '@skein/stream';
import { noop, whenAborted } from './when-aborted.js';

/**
 * What bounds a call's client filters while a `before` awaits (a token fetched from another
 * service, a quota asked for): the call's signal, the signal of the handler it is made for
 * (`ctx`: its cancel and deadline), and the call's timeout, which counts from the call's start:
 * the call is then sent with what is left of it. A call ended so was never sent. One per call
 * with client filters; its timer and listeners exist only while a `before` awaits.
 */
export class ClientFilterWait<O extends WaitedOptions> implements FilterWatch {
  private waited = false;

  /** The call's own timeout (its options' or its client's), which the call is sent with what is left of. */
  private readonly ownTimeoutMs: number | undefined;
  /** What bounds the wait: the call's own timeout, else its carrier's default (`carrierTimeout`). */
  private readonly timeoutMs: number | undefined;

  /**
   * `what`: what the call waits for, as its errors name it (an asynchronous input schema waits so
   * too). `carrierMs`: the carrier's default, for a call given no timeout of its own: it bounds
   * the wait only, and the call is sent as given (its carrier bounds it from there, as any call
   * given none), so a call goes the same way whether a filter awaited or not.
   */
  constructor(
    private readonly o: O,
    timeoutMs: number | undefined,
    private readonly info: Pick<CallInfo, 'action' | 'startedAt'>,
    private readonly what = 'a client filter',
    carrierMs?: number,
  ) {
    this.ownTimeoutMs = timeoutMs;
    this.timeoutMs = timeoutMs ?? carrierMs;
  }

  watchFilters(stop: (reason: unknown) => void): () => void {
    const { o, timeoutMs, info, what } = this;
    this.waited = true;
    // A typed call's `ctx`, or (a stream's options, after `inherit`) the abort source it became.
    const source = o.ctx ?? o.abortSource;
    let stopped = false;
    let hooked = false;
    const unlink =
      o.signal === undefined && source === undefined
        ? noop
        : whenAborted(o.signal, source, (why) => {
            stopped = true;
            // The deadline of the handler's call it is made for passed: this call's, taken from it, did too.
            // Its signal's timeout (a TimeoutError: stream's `hookAbort` said Timeout, with the reason as cause) is said as its signal's.
            const reason = o.signal?.aborted === true ? o.signal.reason : undefined;
            const make = () =>
              why.code !== ErrorCode.Timeout
                ? cancelled(info.action, what, reason)
                : why.cause === undefined
                  ? timedOutWithSource(info.action, what)
                  : signalTimedOut(`${info.action}:`, why.cause, ` while ${what} awaited; never sent`);
            // From the signal's listener (stackless, as a sent call's: a signal shared by many calls
            // fails them all in one turn, and a stack named only the listener), or at once (a stack).
            stop(hooked ? withoutStack(make) : make());
          });
    hooked = true;
    // Stopped already (a signal aborted before the wait): a timer armed now would outlive the call.
    if (!timerBounds(timeoutMs) || stopped) return unlink;
    // Stackless: made by a timer, as the stream's deadline sweep makes its Timeouts.
    const timer = setTimeout(() => stop(withoutStack(() => timedOut(info.action, timeoutMs, what))), Math.max(0, timeoutMs - this.elapsed()));
    return () => {
      clearTimeout(timer);
      unlink();
    };
  }

  /** The options the call is sent with: after a wait, its own timeout less the time the filters took. */
  sendOptions(): O {
    if (!this.waited || !timerBounds(this.ownTimeoutMs)) return this.o;
    return extended(this.o, { timeoutMs: Math.max(1, this.ownTimeoutMs - this.elapsed()) });
  }

  private elapsed(): number {
    return performance.now() - this.info.startedAt;
  }
}

/**
 * A timeout a timer can keep: the rest (0, negative, NaN, a string) go on to the Caller as
 * given, which refuses them with InvalidArgument, as without filters.
 */
function timerBounds(ms: number | undefined): ms is number {
  return typeof ms === 'number' && ms > 0 && ms <= MAX_TIMER_MS;
}

/**
 * The timeout of a unary call given none (neither its options nor its client): its carrier's
 * default (`Caller.timeoutMs`), which would bound it sent at once, so bounds its wait too (a
 * `before` that never settles held such a call for ever). Not when it is made for a handler's
 * call (`ctx`) that has a deadline: what is left of that one bounds it, as `inherit` sends it.
 */
export function carrierTimeout(caller: Caller, o: { readonly ctx?: { readonly deadline: number | undefined } }): number | undefined {
  if (o.ctx?.deadline !== undefined) return undefined;
  // A Caller of your own whose getter throws: its call's wait is unbounded, as before.
  return callerTimeoutMs(caller);
}

/** What of a call's options bounds its wait (a typed call's `MethodCallOptions`). */
export interface WaitedOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** The handler's context the call is made for (`CallContext`): only its abort is heard. */
  readonly ctx?: AbortSource;
  /** What `ctx` became in a call's options (`inherit`). */
  readonly abortSource?: AbortSource;
}

/** `reason`: the call's signal's, its cause (as a sent call's Cancelled has it); not a handler context's. */
const cancelled = (action: string, what: string, reason: unknown): RpcError =>
  new RpcError(ErrorCode.Cancelled, `${action}: cancelled while ${what} awaited; never sent`, reason === undefined ? undefined : { cause: reason });

/** Never sent, and nobody retries it: the call it was made for is over (as a sent one's, stream's `sourceEnded`). */
const timedOutWithSource = (action: string, what: string): RpcError =>
  new RpcError(ErrorCode.Timeout, `${action}: timed out while ${what} awaited: the call it was made for passed its deadline; never sent`, { retry: 'never' });

const timedOut = (action: string, ms: number, what: string): RpcError =>
  new RpcError(ErrorCode.Timeout, `${action}: timed out after ${ms} ms while ${what} awaited; never sent`, { retry: 'safe' });

/**
 * `p`'s outcome, unless `watch` ends the wait first (then its reason): a call's asynchronous
 * input schema (a `refine` that asks a database) is bounded as a filter's wait is. What `p`
 * gives after that goes nowhere. The watch is unhooked as soon as either happened.
 */
export function unlessStopped<T>(p: Promise<T>, watch: FilterWatch): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let over = false;
    let unwatch: (() => void) | undefined;
    const end = (settle: () => void): void => {
      if (over) return;
      over = true;
      unwatch?.();
      settle();
    };
    // Handled first: a watch that throws (a signal that is none) rejects this, and `p` failing
    // later must not be a rejection nobody handles.
    p.then(
      (v) => end(() => resolve(v)),
      (e: unknown) => end(() => reject(e)),
    );
    unwatch = watch.watchFilters((why) => end(() => reject(why))); // may stop at once
    if (over) unwatch();
  });
}
