import { EMPTY_BYTES, RpcError } from '@skein/core';
import type { StreamCall } from '../client/stream-call.js';
import { NO_OPTS, type CallOptions } from '../client/call-options.js';
import { openStreamFailure } from './failover-rules.js';
import { resendable, unrunError } from './transparent-retry.js';
import { refusedForRoom } from '../client/room-refusal.js';

/** What a PoolStream asks of its pool. */
export interface Reopener {
  /** The server's address, for the words of a stream that may have run there. */
  readonly address: string;
  // @internal as on ConnPool: its published `implements Reopener` must ask no member left out there.
  /** @internal True when `s` may be opened once more: retries left, the pool open, its signal quiet, time left. */
  mayReopen(s: PoolStream): boolean;
  /** @internal Opens `s` again (from a microtask), or ends it saying why it did not run when it no longer may. */
  reopen(s: PoolStream, err: RpcError): void;
  /** @internal A stream refused for room on one connection may open on another: one open that takes it, or one opening or that may open. */
  hasStreamRoom(): boolean;
}

/** Why a stream refused unrun after it wrote past what is kept is not opened again. */
export const UNKEPT = 'not opened again by itself: it wrote more than its streamWindowBytes before the server spoke, more than a pool keeps to write again';

/**
 * A stream opened through a ConnPool's `openStream`, watched through its attempts so that the
 * pool may open it once more when it was refused before it ran (`transparentRetries`): not
 * opened (its connection closing or lost first), or refused once open by a draining server
 * before the server said anything of it (no item or credit: its handler would have run). The
 * items it wrote meanwhile are kept (`StreamCall.keepWrites`, at most its window) and written
 * again, in order, where it opens next. A FailoverPool moves such a stream to another server
 * by the same `onAttempt`/`unopened` hooks. The cost per stream: this object, which keeps the
 * opening request for as long as the stream may be opened again, and the kept items.
 */
export class PoolStream {
  /** Attempts after the first. */
  reopened = 0;
  /** The current attempt opened the stream. */
  private isOpen = false;

  constructor(
    private readonly pool: Reopener,
    readonly stream: StreamCall,
    readonly action: string | number,
    public msg: Uint8Array,
    public opts: CallOptions,
    /** When the stream's timeout is over, in the pool's ticked time: Infinity with none, NaN for a bad one (never reopened). */
    readonly deadline: number,
  ) {
    stream.onAttempt = this.told;
    stream.keepWrites();
  }

  /** The next attempt: watched as the first was. */
  again(): void {
    this.isOpen = false;
    this.stream.forgetReplyMetadata();
    this.stream.onAttempt = this.told;
  }

  /** Ends the stream with `err` after `attempts`, in words that say when it did not run (and, if it wrote, that its items were not read). */
  fail(err: Error, attempts: number, why?: string): void {
    this.msg = EMPTY_BYTES;
    this.opts = NO_OPTS;
    this.stream.finish(err instanceof RpcError ? unrunError(err, attempts, 'stream', this.stream.wrote, why) : err, null);
  }

  /**
   * Told that an attempt opened the stream (null), or else why not; once open, told the error
   * that would end it. One closure for both: the one cost per stream with the object itself.
   */
  private readonly told = (err: Error | null): void => {
    const s = this.stream;
    if (err === null) {
      this.isOpen = true;
      s.onAttempt = this.told;
      return;
    }
    // Items or credit from the server say its handler ran, whatever its answer claims (a bare
    // Closed reads 'safe'): it may have run, in the words a FailoverPool's stream gets.
    if (this.isOpen && s.heard) return s.finish(openStreamFailure(err, s, this.pool.address, this.reopened + 1) ?? err, null);
    // Items written and no longer kept (past its window) cannot be written again: not opened again.
    if (this.isOpen && s.unkept) return this.fail(err, this.reopened + 1, UNKEPT);
    this.refused(err);
  };

  private refused(err: Error): void {
    // Refused for room on its connection alone (its stream budget): another connection may have
    // some, and the refusing one takes no stream until one of its own leaves (ClientStream.streamRoom).
    const forRoom = this.isOpen && refusedForRoom(err, this.stream);
    const again = err instanceof RpcError && (resendable(err) || forRoom);
    if (!(err instanceof RpcError && again && this.pool.mayReopen(this))) return this.fail(err, this.reopened + 1);
    // Back to unopened now: its writes wait for the next connection's credit.
    this.stream.unopened();
    // The refused attempt's reply metadata is not its caller's unless the refusal ends the stream:
    // set aside now, not at the reopen, so a caller that aborts while the reopen waits its turn is never told it.
    const restore = this.stream.setReplyMetadataAside();
    // Not from within the refusing connection's frame handling, which the reopen's pick may close;
    // and room is judged once the rest of that read is handled (a sibling's end in it makes some).
    queueMicrotask(() => this.reopenOrFail(err, forRoom, restore));
  }

  private reopenOrFail(err: RpcError, forRoom: boolean, restore: () => void): void {
    if (this.stream.isDone) return; // cancelled meanwhile: its signal, `cancel()`, a `break`
    // With no other connection to take it, nor one the pool may open (`maxConnections`), it would
    // open on one that just refused it, to be refused again: it ends now with the refusal, unrun.
    if (forRoom && !this.pool.hasStreamRoom()) {
      restore();
      return this.fail(err, this.reopened + 1);
    }
    this.reopened++;
    this.pool.reopen(this, err);
  }
}
