import { CODE_INFO, ErrorCode, type ErrorName, type RetryPolicy } from './error-code.js';

export interface RpcErrorOptions {
  cause?: unknown;
  /**
   * Overrides the code's default retry policy: an IO error before the write is `safe`, a peer's
   * Overloaded that came from its handler (not its own refusal) is `idempotent`.
   */
  retry?: RetryPolicy | undefined;
  /**
   * A downstream's error (see `RpcError.downstream`). Default: the `cause`'s, when it is an
   * RpcError: a copy made to add words (a stub naming its method, a failover counting its
   * tries) is still the downstream's. `false` makes a copy this process's own verdict.
   */
  downstream?: boolean | undefined;
}

/** A built-in error: raised locally (timeouts, lost connections) or received from the peer. */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  readonly code: ErrorCode;
  readonly retry: RetryPolicy;
  /**
   * True when a Skein client gave this error to this process about a call it made: a remote's
   * answer, or its own machinery's failure (a timeout, a pool's refusal naming an address).
   * Its words are about that call, not about the request this process is answering, so a
   * server that a handler passes it on through withholds them (`speaksToCaller`). Set by the
   * clients (`fromDownstream`) on every answer and on their refusals of the codes whose words
   * may travel (InvalidArgument, PermissionDenied, Unauthenticated); some refusals of other
   * codes (a closed connection's Closed or IO) lack it, as their words never travel anyway. Kept
   * by copies that name it as their `cause`.
   */
  readonly downstream: boolean;

  constructor(code: ErrorCode, message?: string, options: RpcErrorOptions = {}) {
    const meta = CODE_INFO[code];
    super(message ?? meta.wire, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retry = options.retry ?? meta.retry;
    // Always written, so every RpcError has one shape; read from the cause only on a copy.
    this.downstream = options.downstream ?? (options.cause instanceof RpcError && options.cause.downstream);
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

/**
 * Marks an error a Skein client hands its user as a downstream's (`RpcError.downstream`) and
 * returns it; anything else (a RemoteError, null) as it is. In place, never a copy: it runs on
 * failures only, and a refusal shared by many calls is every one of those calls' downstream's.
 */
export function fromDownstream<E>(err: E): E {
  // Reflect.set, not an assignment: an application's frozen constant stays as it is (unmarked)
  // rather than a TypeError taking the place of the error being handed on.
  if (err instanceof RpcError && !err.downstream) Reflect.set(err, 'downstream', true);
  return err;
}

/**
 * `new RpcError(code, message, options)` as a plain function, for an error made in an expression
 * or handed around as a maker (`reject(rpcError(ErrorCode.Closed))`). Without a message the
 * error's message is the code's wire string (`rpc_closed`).
 */
export const rpcError = (code: ErrorCode, message?: string, options?: RpcErrorOptions): RpcError =>
  new RpcError(code, message, options);

/** Convenience for the most common local failure: bad input from the caller. */
export const invalidArgument = (message: string): RpcError => new RpcError(ErrorCode.InvalidArgument, message);

/** A connection could not be made: the peer saw no request, so any call may go elsewhere. */
export const connectFailed = (remote: string, why: string, cause?: unknown): RpcError =>
  new RpcError(ErrorCode.Unreachable, `cannot connect to ${remote}: ${why}`, { cause });

/**
 * Calls `onAbort` once `signal` aborts (at once if it has), and returns the unhook: the listener
 * every connect that takes a signal adds, and removes when it settles. Without a signal it costs nothing.
 */
export function whenAborted(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (signal === undefined) return noUnhook;
  if (signal.aborted) {
    onAbort();
    return noUnhook;
  }
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

const noUnhook = (): void => {};

/** A listener could not be opened (address in use, no permission, a file in the way). */
export const listenFailed = (where: string, why: string, cause?: unknown): RpcError =>
  new RpcError(ErrorCode.IO, `cannot listen on ${where}: ${why}`, { cause });
