import { ErrorCode, RpcError } from '@skein/core';
import type { Caller, CallOptions, Notify } from '@skein/stream';
import type { ReverseOutbox, ReverseTarget } from './reverse-outbox.js';

/**
 * `ctx.caller` in a worker, for a connection that agreed calls both ways: a Caller whose calls
 * the pool sends on the connection's own caller (calls both ways: to the services the other
 * side serves), with the same outcomes. It opens no streams, as that caller opens none.
 */
export class WorkerCaller implements Caller, ReverseTarget {
  constructor(
    /** The pool's key for the connection. */
    readonly connKey: number,
    readonly remote: string,
    private readonly outbox: ReverseOutbox,
    /** The pool's connection's caller's default timeout, sent with the connection (ConnDesc.callerTimeoutMs). */
    readonly timeoutMs: number | undefined,
  ) {}

  send(action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify): void {
    this.outbox.send(this, action, msg, opts, notify);
  }

  /** What a closed connection's caller answers: the pool had no such connection any more. */
  closedError(): RpcError {
    return new RpcError(ErrorCode.IO, `connection from ${this.remote} is closed: reverse call not sent`, { retry: 'safe' });
  }
}
