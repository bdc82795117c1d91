import { CODE_INFO, ErrorCode, type ErrorName, type RetryPolicy } from './error-code.js';

export interface RpcErrorOptions {
  cause?: unknown;
  /**
   * Overrides the code's default retry policy: an IO error before the write is `safe`, a peer's
   * Overloaded that came from its handler (not its own refusal) is `idempotent`.
   */
  retry?: RetryPolicy;
}

/** A built-in error: raised locally (timeouts, lost connections) or received from the peer. */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  readonly code: ErrorCode;
  readonly retry: RetryPolicy;

  constructor(code: ErrorCode, message?: string, options: RpcErrorOptions = {}) {
    const meta = CODE_INFO[code];
    super(message ?? meta.wire, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retry = options.retry ?? meta.retry;
  }

  /** The code's name: `'Timeout'`, `'Overloaded'`, ... */
  get codeName(): ErrorName {
    return CODE_INFO[this.code].name;
  }

  /** The reserved string this error travels as (`rpc_timeout`, ...). */
  get wire(): string {
    return CODE_INFO[this.code].wire;
  }

  /** True when the request certainly did not run on the peer. */
  get neverExecuted(): boolean {
    return this.retry === 'safe';
  }

  static is(err: unknown, code?: ErrorCode): err is RpcError {
    return err instanceof RpcError && (code === undefined || err.code === code);
  }
}

export const rpcError = (code: ErrorCode, message?: string, options?: RpcErrorOptions): RpcError =>
  new RpcError(code, message, options);

/** Convenience for the most common local failure: bad input from the caller. */
export const invalidArgument = (message: string): RpcError => new RpcError(ErrorCode.InvalidArgument, message);

/** A connection could not be made: the peer saw no request, so any call may go elsewhere. */
export const connectFailed = (remote: string, why: string, cause?: unknown): RpcError =>
  new RpcError(ErrorCode.Unreachable, `cannot connect to ${remote}: ${why}`, { cause });

/** A listener could not be opened (address in use, no permission, a file in the way). */
export const listenFailed = (where: string, why: string, cause?: unknown): RpcError =>
  new RpcError(ErrorCode.IO, `cannot listen on ${where}: ${why}`, { cause });
