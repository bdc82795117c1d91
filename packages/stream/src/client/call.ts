import { EMPTY_BYTES, ErrorCode, RpcError, fromDownstream, isTimeoutReason, signalTimedOut, type RemoteError } from '@skein/core';
import type { Waiter } from '../internals/waiting-line.js';
import { notifyGuarded, type CallbackHost } from '../internals/notify-guarded.js';
import type { Metadata } from '../wire/call-head.js';
import { tellReplyMetadata, type ReplyMetadataReader } from './reply-metadata-read.js';

/** A successful reply: the structured message and the blob, either may be empty. */
export interface Reply {
  readonly msg: Uint8Array;
  readonly blob: Uint8Array;
}

/** The lower-level result path: one callback per call, no promise. `reply` is set iff `err` is null. */
export type Notify = (err: RpcError | RemoteError | null, reply: Reply | null) => void;

/**
 * One call from the moment it is accepted until it settles. Finishing is idempotent: the first
 * of reply, timeout, abort or connection loss wins, and the rest are ignored.
 */
export class Call implements Waiter, ReplyMetadataReader {
  seq = 0;
  /**
   * When the call times out, in its stream's ticked time (TickClock): costs no clock read. -1
   * once out of the stream's DeadlineWheel, where `prev` and `next` link it while it is in.
   */
  deadline = -1;
  prev: Call | undefined = undefined;
  next: Call | undefined = undefined;
  done = false;
  /** Unhooks the call from what may cancel it (its signal, its abort source): set while it is hooked. */
  unhookAbort: (() => void) | undefined = undefined;
  /** Sent with a head (deadline, metadata; a signal makes it cancellable on the server). */
  headed = false;
  /** The encoded head, when it carries metadata (else a shared 4-byte one is written). */
  head: Uint8Array | undefined = undefined;
  /** Its own timeoutMs travels as the remaining time. */
  sendsDeadline = false;
  /** The stream's ticked time when the call was accepted: what it spent waiting is taken off its remaining time. */
  acceptedAt = 0;
  /** Waiting, counted in the window, for the hello's answer before its head may go. */
  held = false;
  /** Its caller reads the reply's metadata (`CallOptions.onReplyMetadata`): told as the server's answer comes. */
  onReplyMetadata: ((metadata: Metadata) => void) | undefined = undefined;
  /** The reply head that came before the answer (wire/reply-metadata.ts), read only for a call with `onReplyMetadata`. */
  replyMetadata: Metadata | undefined = undefined;

  constructor(
    /** The action as its caller named it: what a callback that throws is logged with. */
    readonly name: string | number,
    /** A numeric action, or a string action's request prefix (header room, then the name). */
    readonly action: number | Uint8Array,
    /** What the call carries; let go of (`dropPayload`) once nobody will write it. */
    public msg: Uint8Array,
    public blob: Uint8Array,
    readonly timeoutMs: number,
    private readonly notify: Notify,
  ) {}

  /**
   * Lets go of what the call carries: it was written, or given up before its turn. A waiting
   * line lets go of a settled call only lazily (at a later push or shift, which may not come
   * while the window stays full), and a call on the wire may keep its slot long after.
   */
  dropPayload(): void {
    this.msg = this.blob = EMPTY_BYTES;
    this.head = undefined;
  }

  /**
   * The server's answer came: its caller's `onReplyMetadata` is told the metadata that came with
   * it (empty when none did), before the call settles. Guarded as the call's own callback is.
   */
  tellReplyMetadata(host: CallbackHost): void {
    tellReplyMetadata(this, host, this.name, 'call');
  }

  /**
   * Settles the call. Its callback is its caller's: one that throws is logged through `host`
   * (`msg`), and what settled the call (an answer, a timeout, a cancel, a close) goes on.
   */
  finish(err: RpcError | RemoteError | null, reply: Reply | null, host: CallbackHost, msg?: string): void {
    if (this.done) return;
    this.done = true;
    if (this.unhookAbort !== undefined) this.unhookAbort();
    // Whatever ends it (the peer's answer, a timeout, a lost connection) is about this call, not
    // about a request its caller may be answering: a handler that passes it on does not speak with it.
    if (err !== null) fromDownstream(err);
    notifyGuarded(host.logger, host.remote, this.name, this.notify, err, reply, msg);
  }
}

/**
 * What a call gets when its AbortSignal or its abort source (the call it was made for) fires,
 * wherever it is waiting (every carrier's abort comes here, through `hookAbort` and
 * `abortedAlready`). One text for both: a worker's call reaches its connection's caller
 * through a signal of the pool's, whichever it was. `reason`, its signal's (`abort(reason)`; by
 * default a DOMException made in `abort()`, whose stack names the code that aborted), becomes
 * its cause, as a connect's or a discovery wait's. A reason that is a timeout
 * (`AbortSignal.timeout(ms)`'s TimeoutError, a handler's `ctx.signal` past its deadline: core's
 * `isTimeoutReason`) makes it a Timeout instead, as fetch() tells the two apart, worded as the
 * signal's so that it is not taken for the call's own `timeoutMs`; `retry` stays 'never' and a
 * call on the wire is cancelled there all the same. An abort source's end passes no reason
 * (`sourceEnded`): it is a Cancelled, or its own Timeout.
 */
export const cancelled = (reason?: unknown): RpcError =>
  reason !== undefined && isTimeoutReason(reason)
    ? signalTimedOut('call', reason)
    : new RpcError(ErrorCode.Cancelled, 'call cancelled: its signal, or the call it was made for, aborted', reason === undefined ? undefined : { cause: reason });

/**
 * Whether `why`, what `hookAbort` or `abortedAlready` failed a call with, is its abort source's
 * deadline (`sourceEnded`'s Timeout) rather than its signal's timeout: the source's passes no
 * cause, the signal's always has its reason (an aborted signal's reason is never undefined).
 */
export const sourceDeadline = (why: RpcError): boolean => why.code === ErrorCode.Timeout && why.cause === undefined;

/**
 * What a call gets when its abort source (the call it was made for: a handler's `ctx`, a server
 * request) fires with `reason`. A timeout (core's `isTimeoutReason`): that call's deadline
 * passed (or its handler's own `handlerTimeoutMs`), and this one, made with what was left of that deadline, timed out with it and
 * reads Timeout, whichever of the two timers fired first. Any other end (a cancel, a lost
 * connection) is a Cancelled, as its signal's would be. `retry: 'never'` either way: the call it
 * was made for is over, so nobody (a FailoverPool) tries this one again for it.
 */
export const sourceEnded = (reason: unknown): RpcError =>
  isTimeoutReason(reason)
    ? new RpcError(ErrorCode.Timeout, 'call timed out: the call it was made for passed its deadline', { retry: 'never' })
    : cancelled();
