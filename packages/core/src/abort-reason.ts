import { ErrorCode } from './error-code.js';
import { RpcError } from './rpc-error.js';

/**
 * Whether an abort's `reason` says that time ran out rather than that someone gave up: a
 * `TimeoutError` (the DOMException `AbortSignal.timeout(ms)` aborts with, which fetch() reports
 * apart from an `AbortError`; or any Error so named), or a Timeout `RpcError` (a handler's
 * `ctx.signal` or `req.signal` once its call's deadline or `handlerTimeoutMs` passed). Read
 * only once a signal has aborted: nothing on the path of a call that never aborts.
 */
export function isTimeoutReason(reason: unknown): boolean {
  if (!(reason instanceof Error)) return false;
  if (reason instanceof RpcError) return reason.code === ErrorCode.Timeout;
  try {
    return reason.name === 'TimeoutError';
  } catch {
    return false; // a `name` getter that throws: no timeout it can be taken for
  }
}

/**
 * What work given up by its signal fails with when the signal's reason is a timeout
 * (`isTimeoutReason`): Timeout, with the reason as `cause` and `retry: 'never'`, as the Cancelled
 * it replaces (its caller's own budget ran out: nobody retries it for them). The words name the
 * signal and its reason, so that it is not taken for the work's own `timeoutMs`: `subject`
 * (`call`, `connect to 127.0.0.1:4000`) `timed out (its signal: TimeoutError: …)`, then `tail`.
 */
export function signalTimedOut(subject: string, reason: unknown, tail = ''): RpcError {
  return new RpcError(ErrorCode.Timeout, `${subject} timed out (its signal: ${reasonText(reason)})${tail}`, { cause: reason, retry: 'never' });
}

/** `TimeoutError: The operation was aborted due to timeout`; the name alone when the reason cannot be read. */
function reasonText(reason: unknown): string {
  try {
    return String(reason);
  } catch {
    return 'TimeoutError';
  }
}

/**
 * A connect given up because its `signal` aborted (`ConnectOptions.signal`,
 * `TransportConnectOptions.signal`): Cancelled, as any work its caller called off (its default
 * retry, 'never': the caller gave it up, nobody retries it for them), or Timeout when the
 * signal's reason is a timeout (`AbortSignal.timeout(ms)`: the caller's budget, not the
 * connect's own `timeoutMs`, whose end is Unreachable), `retry: 'never'` all the same. The
 * abort's reason is the cause. Every runtime and transport here rejects with it, so all say the same.
 */
export const connectAborted = (remote: string, reason?: unknown): RpcError =>
  isTimeoutReason(reason)
    ? signalTimedOut(`connect to ${remote}`, reason)
    : new RpcError(ErrorCode.Cancelled, `connect to ${remote} aborted`, reason === undefined ? {} : { cause: reason });
