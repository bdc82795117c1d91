import { RpcError, type ErrorCode } from '@skein/core';
import { LazyAbort, ServerRequest, metadataRecord, type Metadata, type Responder } from '@skein/stream';
import type { CallHead } from './batch-heads.js';
import type { HeadAhead, ReplyHeadsAhead } from './reply-heads-ahead.js';
import { sharedNow } from './shared-now.js';


/**
 * A request that came to the server with a head, as a worker runs it: the deadline and metadata
 * the server's thread read, and a signal of its own that the pool aborts (a `cancel` message)
 * when the call on the server's thread stops being waited for. Plain calls are plain
 * ServerRequests, as on the server's thread, and pay for none of this.
 */
export class WorkerRequest extends ServerRequest implements HeadAhead {
  /** Fired at the pool's cancel; its signal made only if read, its listeners (a `ctx`, the calls made with it) told without one. */
  private aborts: LazyAbort | undefined = undefined;
  private readonly _deadline: number | undefined;
  private readonly expiresAt: number;
  private readonly _metadata: Metadata;
  aheadDue = false;
  aheadSent = false;

  constructor(
    owner: Responder,
    readonly callId: number,
    actionId: number,
    actionName: string,
    msg: Uint8Array,
    blob: Uint8Array,
    head: CallHead,
    /** Where the reply metadata of a call with a deadline goes before its answer. */
    private readonly ahead: ReplyHeadsAhead,
  ) {
    super(owner, callId, 0, actionId, actionName, msg, blob);
    this._deadline = head.deadline;
    this.expiresAt = head.expiresAt;
    // As the server's thread reads it: it came through a structured clone, which made it an object
    // that inherits Object.prototype (a key like "constructor" would find a function).
    this._metadata = metadataRecord(head.metadata);
  }

  /** It came with a head on the server's thread, as a call there that can be cancelled alone. */
  override get headed(): boolean {
    return true;
  }

  override get signal(): AbortSignal {
    return (this.aborts ??= new LazyAbort()).signal;
  }

  /** As ServerRequest's: told at the pool's cancel, with no signal made for it. */
  override onAbort(listener: (reason: unknown) => void): () => void {
    return (this.aborts ??= new LazyAbort()).onAbort(listener);
  }

  override get aborted(): boolean {
    return this.aborts?.aborted === true;
  }

  override get deadline(): number | undefined {
    return this._deadline;
  }

  /** Counted on the time line the threads share: the server's clock is not this thread's. */
  override remainingMs(): number | undefined {
    return this._deadline === undefined ? undefined : this.expiresAt - sharedNow();
  }

  override get metadata(): Metadata {
    return this._metadata;
  }

  /**
   * As ServerRequest's; on a call with a deadline the head then goes to the server's thread at
   * the turn's end, before the answer (reply-heads-ahead.ts): that thread answers the call's
   * Timeout itself, with what the handler set, as in process. An entry refused (thrown) changes
   * nothing, and is not told.
   */
  override setReplyMetadata(key: string, value: string): void {
    super.setReplyMetadata(key, value);
    if (this._deadline !== undefined) this.ahead.changed(this);
  }

  /**
   * The pool says nobody waits for this call any more. It is answered now with the server's
   * error (which the pool drops: the call there is answered already), so the pool frees its
   * slot without waiting for the handler, whose answer is then dropped here; then the signal fires.
   * The handler may run on: `runsOn` first, so that the pool's server counts it until it ends.
   */
  cancel(code: ErrorCode, message: string): void {
    if (this.aborted) return;
    const reason = new RpcError(code, message);
    this.runsOn();
    this.fail(code);
    (this.aborts ??= new LazyAbort()).fire(reason);
  }
}
