import { ErrorCode, MAX_TIMER_MS, RpcError, invalidArgument, isTimeoutReason, signalTimedOut } from '@skein/core';
import type { DiscoveryStatus, ReadyOptions } from './discovery.js';

/**
 * Waits for `first` within the bounds. The error names the watch's state then (`stale` and why,
 * e.g. etcd out of reach), so that a process that gives up at start-up says what it waited on;
 * the watch itself goes on, and may still become live.
 */
export function boundedReady(first: Promise<void>, status: () => DiscoveryStatus, opts: ReadyOptions = {}): Promise<void> {
  const { timeoutMs, signal } = opts;
  if (timeoutMs !== undefined && !(timeoutMs >= 0 && timeoutMs <= MAX_TIMER_MS)) {
    return Promise.reject(invalidArgument(`ready timeoutMs must be between 0 and ${MAX_TIMER_MS} ms, got ${timeoutMs}`));
  }
  if (timeoutMs === undefined && !signal) return first;
  const why = (): string => {
    const s = status();
    return s.state === 'stale' ? `stale: ${s.reason}` : s.state;
  };
  // Timeout for a timeout reason (`AbortSignal.timeout(ms)`), as calls and connects say; else Cancelled.
  const aborted = (reason: unknown): RpcError =>
    isTimeoutReason(reason)
      ? signalTimedOut('waiting for discovery', reason, `; the watch is ${why()}`)
      : new RpcError(ErrorCode.Cancelled, `waiting for discovery cancelled; the watch is ${why()}`, { cause: reason });
  if (signal?.aborted) return Promise.reject(aborted(signal.reason));
  return new Promise<void>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      done();
      reject(aborted(signal!.reason));
    };
    // Referenced on purpose: a process awaiting ready() at start-up must live to see the Timeout.
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
      done();
      reject(new RpcError(ErrorCode.Timeout, `discovery not ready after ${timeoutMs} ms; the watch is ${why()}`));
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    first.then(
      () => {
        done();
        resolve();
      },
      (err: unknown) => {
        // Its timer is referenced: left, it would hold the process until timeoutMs.
        done();
        reject(err);
      },
    );
  });
}
