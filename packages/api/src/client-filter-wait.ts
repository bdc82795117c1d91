import { ErrorCode, MAX_TIMER_MS, RpcError } from '@skein/core';
import type { CallInfo, FilterWatch } from './filters.js';
import { noop, whenAborted } from './linked-signal.js';

/**
 * What bounds a call's client filters while a `before` awaits (a token fetched from another
 * service, a quota asked for): the call's signal, the signal of the handler it is made for
 * (`ctx`: its cancel and deadline), and the call's timeout, which counts from the call's start:
 * the call is then sent with what is left of it. A call ended so was never sent. One per call
 * with client filters; its timer and listeners exist only while a `before` awaits.
 */
export class ClientFilterWait<O extends WaitedOptions> implements FilterWatch {
  private waited = false;

  constructor(
    private readonly o: O,
    private readonly timeoutMs: number | undefined,
    private readonly info: CallInfo,
  ) {}

  watchFilters(stop: (reason: unknown) => void): () => void {
    const { o, timeoutMs, info } = this;
    this.waited = true;
    const unlink = o.signal === undefined && o.ctx === undefined ? noop : whenAborted(o.signal, o.ctx?.signal, () => stop(cancelled(info.action)));
    // Stopped already (a signal aborted before the wait): a timer armed now would outlive the call.
    if (!timerBounds(timeoutMs) || o.signal?.aborted === true || o.ctx?.signal.aborted === true) return unlink;
    const timer = setTimeout(() => stop(timedOut(info.action, timeoutMs)), Math.max(0, timeoutMs - this.elapsed()));
    return () => {
      clearTimeout(timer);
      unlink();
    };
  }

  /** The options the call is sent with: after a wait, its timeout less the time the filters took. */
  sendOptions(): O {
    if (!this.waited || !timerBounds(this.timeoutMs)) return this.o;
    return { ...this.o, timeoutMs: Math.max(1, this.timeoutMs - this.elapsed()) };
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

/** What of a call's options bounds its wait (a typed call's `MethodCallOptions`). */
export interface WaitedOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** The handler's context the call is made for (`CallContext`): only its signal is read. */
  readonly ctx?: { readonly signal: AbortSignal };
}

const cancelled = (action: string): RpcError => new RpcError(ErrorCode.Cancelled, `${action}: cancelled while a client filter awaited; never sent`);

const timedOut = (action: string, ms: number): RpcError =>
  new RpcError(ErrorCode.Timeout, `${action}: timed out after ${ms} ms while a client filter awaited; never sent`, { retry: 'safe' });
