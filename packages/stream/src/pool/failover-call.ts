import type { RemoteError, RpcError } from '@skein/core';
import type { Notify, Reply } from '../client/call.js';
import type { CallOptions } from '../client/call-options.js';
import type { StreamCall } from '../client/stream-call.js';
import type { PoolServer } from './pool-server.js';
import type { WaitingCall } from './connect-queue.js';
import { FinalReplyMetadata } from './final-reply-metadata.js';

/**
 * Where a FailoverCall's attempts settle: its pool, which moves it to another server or tells
 * its caller. An interface of this file's own, so that a call need not import its pool back.
 */
export interface AttemptSettler {
  /** @internal As on FailoverPool: its published `implements AttemptSettler` must ask no member left out there. */
  settle(c: FailoverCall, err: RpcError | RemoteError | null, reply: Reply | null): void;
}

/**
 * How many times one call may be placed again free (`FailoverPool.placeAgainFree`) before its
 * attempts go by the retry rules: an `onStateChange` that swaps in a fresh server under every
 * connect would otherwise place it for ever, recursing until the stack overflowed.
 */
export const MAX_FREE_PLACEMENTS = 8;

/**
 * One call (or stream) of a FailoverPool through its attempts. It keeps what the retry rules
 * read across attempts (the servers tried, where it may have run, a redirect's target), and one
 * `done` callback made once per call, not per attempt, that every attempt's server answers.
 */
export class FailoverCall {
  readonly tried: string[] = [];
  attempt = 0;
  /** How many times it was placed again free, its attempt not spent (`FailoverPool.placeAgainFree`): at most `MAX_FREE_PLACEMENTS`. */
  placedFree = 0;
  /** The server of the current attempt. */
  address = '';
  /** A server that may have run an earlier attempt, as its final error names it (`PoolServer.shown`: no token). */
  mayHaveRunOn: string | undefined;
  /** Where a redirect sends the next attempt. */
  redirect: string | undefined;
  /** The server of the current attempt, and when it began (read only with outlier ejection on). */
  member: PoolServer | undefined;
  /** The half-open round of its server's breaker the current attempt probes in, if it is a probe. */
  probe: number | undefined;
  startedAt = 0;
  /** A stream (not a call): it fails over until it is open, then only if refused unrun before anything of it went either way. */
  stream: StreamCall | undefined;
  /**
   * When its `timeoutMs` (its own, else the pool's default) is over, in its pool's ticked time:
   * it bounds all its attempts together. Infinity for a stream without a timeout of its own
   * (nothing bounds its life), NaN for a bad timeout (its first attempt fails with it).
   */
  deadline = NaN;
  /**
   * The options the current attempt went with: the caller's own on a first attempt that
   * `attemptTimeoutMs` does not cut short (no copy per call), else theirs with the attempt's
   * timeout (what is left of the call's, or less).
   */
  sent: CallOptions;
  /** The current attempt's timeout is `attemptTimeoutMs`, short of what was left: its Timeout leaves time for another. */
  capped = false;
  /**
   * The current attempt, a call's, waiting in its server's pool with no connection up (never
   * sent): its pool may move it to a server that comes up meanwhile (FailoverPool.moveWaiting).
   */
  waiting: WaitingCall | undefined;
  readonly done: Notify = (err, reply) => this.owner.settle(this, err, reply);
  /** The caller's options, with a call's `onReplyMetadata` kept for its last attempt (`replyMetadata`). */
  readonly opts: CallOptions;
  /**
   * A call's `onReplyMetadata`: only the attempt that settles it is told, once; undefined without
   * one, and for a stream, whose attempts' StreamCall tells its end's.
   */
  readonly replyMetadata: FinalReplyMetadata | undefined;

  constructor(
    private readonly owner: AttemptSettler,
    readonly action: string | number,
    readonly msg: Uint8Array,
    opts: CallOptions,
    readonly notify: Notify,
    /** A call, not a stream: its attempts' reply metadata is kept, and the last one's told (`replyMetadata`). */
    call = false,
  ) {
    this.replyMetadata = call ? FinalReplyMetadata.of(opts) : undefined;
    this.opts = this.replyMetadata?.opts ?? opts;
    this.sent = this.opts;
  }

  get idempotent(): boolean {
    return this.opts.idempotent === true;
  }
}
