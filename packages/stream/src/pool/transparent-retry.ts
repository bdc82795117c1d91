import { EMPTY_BYTES, ErrorCode, RpcError, type RemoteError } from '@skein/core';
import type { Notify, Reply } from '../client/call.js';
import type { StreamCall } from '../client/stream-call.js';
import { NO_OPTS, type CallOptions } from '../client/call-options.js';
import { notifyGuarded, type CallbackHost } from '../internals/notify-guarded.js';
import { FinalReplyMetadata } from './final-reply-metadata.js';

/** Where a failed `PoolCall` goes: its pool, which resends it or tells its caller. */
export interface Resender {
  // @internal as on ConnPool: its published `implements Resender` must ask no member left out there.
  /** @internal Where a caller's callback that threw is logged (`notifyGuarded`): the pool's logger, its address. */
  readonly callbacks: CallbackHost;
  /** @internal */
  failed(call: PoolCall, err: RpcError | RemoteError): void;
}

/**
 * A call made through a ConnPool's `send`, kept until it settles so that the pool may send it
 * again when its connection refused it before it ran (`resendable`). The one cost of transparent
 * retry on a call that succeeds: this object (no clock read; its deadline is in ticked time).
 */
export class PoolCall {
  /** Attempts after the first. */
  resent = 0;
  /** The options its attempts go with: the caller's, with `onReplyMetadata` kept for the last attempt (`replyMetadata`). */
  opts: CallOptions;
  /** Only the attempt that settles it tells its caller's `onReplyMetadata`: undefined for a call without one. */
  private readonly replyMetadata: FinalReplyMetadata | undefined;

  constructor(
    private readonly pool: Resender,
    readonly action: string | number,
    /** Kept for a resend only (EMPTY_BYTES when the pool makes none). */
    public msg: Uint8Array,
    opts: CallOptions,
    private readonly notify: Notify,
    /** When the call's timeout is over, in the pool's ticked time (NaN: a bad timeout, which the call fails with). */
    readonly deadline: number,
  ) {
    this.replyMetadata = FinalReplyMetadata.of(opts);
    this.opts = this.replyMetadata?.opts ?? opts;
  }

  /** It is sent again: what its server sent back with the refusal is not its caller's. */
  resending(): void {
    this.resent++;
    this.replyMetadata?.forget();
  }

  readonly settle: Notify = (err, reply) => {
    if (err === null) return this.tell(null, reply);
    this.pool.failed(this, err);
  };

  /**
   * Tells the caller of its final error. What a resend would have needed goes first: a waiting
   * line that failed the call may keep its callback, and so this, until a later shift.
   */
  fail(err: RpcError | RemoteError): void {
    this.msg = EMPTY_BYTES;
    this.opts = NO_OPTS;
    this.tell(err, null);
  }

  /**
   * The caller's callback, guarded: a throw out of it is the caller's, not the connection's that
   * answered (its frame handling would close under every call on it) nor the pool's (a resend
   * runs in a microtask, where it would be uncaught).
   */
  private tell(err: RpcError | RemoteError | null, reply: Reply | null): void {
    const { logger, remote } = this.pool.callbacks;
    this.replyMetadata?.tell(logger, remote, this.action);
    notifyGuarded(logger, remote, this.action, this.notify, err, reply);
  }
}

/**
 * True when `err` says the call did not run (`retry: 'safe'`) and a fresh connection to the same
 * address may well take it: a draining server's bare Closed (a restart hands the address to a new
 * process), a connection closing or lost before the call was written. Not a bare Overloaded (the
 * same server, at once, would most likely refuse again: another server is a FailoverPool's to
 * try), nor a Timeout or Unreachable (its time or the connect budget is spent already).
 */
export function resendable(err: RpcError | RemoteError): err is RpcError {
  return err instanceof RpcError && err.retry === 'safe' && (err.code === ErrorCode.Closed || err.code === ErrorCode.IO);
}

/** What a server's bare refusal means, in words: its wire string alone says nothing of whether the call ran. */
const REFUSED: Partial<Record<ErrorCode, string>> = {
  [ErrorCode.Closed]: 'the server was closing',
  [ErrorCode.Overloaded]: 'the server was at its limit',
};

/**
 * A ConnPool's stream that is not opened again (`transparentRetries: 0`; see PoolStream): a bare
 * refusal of it once open (a draining server's Closed, before the server said anything) says in
 * words that it did not run, as a call's does: a bare `rpc_closed` tells its caller nothing to do.
 */
export function explainsRefusal(stream: StreamCall): void {
  stream.onAttempt = (err) => {
    if (err) return stream.finish(err, null); // not opened: the pool's queue said why already
    stream.onAttempt = (late) => stream.finish(stream.heard || !(late instanceof RpcError) ? late! : unrunError(late, 1, 'stream', stream.wrote), null);
  };
}

/**
 * The error the caller gets for a call that did not run and is not sent again: a server's bare
 * refusal says so (`rpc_closed: the server was closing; the call did not run (safe to retry)`),
 * and a call sent more than once says how many times. `err` itself when there is nothing to add.
 * A stream that `wrote` says its items were not read either (the server drops items for a stream
 * it refused): its caller, who opens it again, writes them again. `why`: why it was not opened
 * again, when neither the count nor the configuration says it.
 */
export function unrunError(err: RpcError | RemoteError, attempts: number, what: 'call' | 'stream' = 'call', wrote = false, why?: string): RpcError | RemoteError {
  if (!(err instanceof RpcError) || err.retry !== 'safe') return err;
  const refused = err.message === err.wire ? REFUSED[err.code] : undefined;
  const count = attempts > 1 ? `after ${attempts} attempts` : undefined;
  if (refused === undefined && count === undefined && why === undefined) return err;
  const notes = [why, count].filter((n) => n !== undefined).join('; ');
  const again = (what === 'call' ? 'safe to retry' : 'safe to open again') + (notes ? `; ${notes}` : '');
  const ran = wrote ? `the ${what} did not run and read none of its items` : `the ${what} did not run`;
  const message = refused === undefined ? `${err.message} (${notes})` : `${err.wire}: ${refused}; ${ran} (${again})`;
  return new RpcError(err.code, message, { cause: err, retry: 'safe' });
}
