import type { Logger } from '@skein/core';
import type { Metadata } from '../wire/call-head.js';
import type { CallOptions } from '../client/call-options.js';
import { notifyGuarded } from '../internals/notify-guarded.js';
import { CALL_MD_THREW } from '../client/reply-metadata-read.js';

/**
 * A pool's call whose caller reads reply metadata (`CallOptions.onReplyMetadata`): each attempt's
 * metadata is kept here, not told, and only the attempt that settles the call has its metadata
 * told, once, just before the call settles. An attempt a server refused unrun and the pool sent
 * again (a ConnPool's resend, a FailoverPool's retry) is not the answer the caller gets: its
 * metadata, as gRPC's for an attempt not committed, is dropped. Made only for a call with the
 * option: the others pay nothing.
 */
export class FinalReplyMetadata {
  /** The current attempt's metadata, once its server answered. */
  private kept: Metadata | undefined = undefined;
  /** What each attempt tells in place of the caller's callback. */
  readonly keep = (metadata: Metadata): void => {
    this.kept = metadata;
  };

  /** The caller's options as the pool's attempts go with them: its own callback swapped for `keep`. */
  readonly opts: CallOptions;

  private constructor(
    caller: CallOptions,
    private readonly told: (metadata: Metadata) => void,
  ) {
    this.opts = { ...caller, onReplyMetadata: this.keep };
  }

  /** The record for a call whose options give `onReplyMetadata`; undefined (nothing made) for the others. */
  static of(opts: CallOptions): FinalReplyMetadata | undefined {
    return opts.onReplyMetadata === undefined ? undefined : new FinalReplyMetadata(opts, opts.onReplyMetadata);
  }

  /** Another attempt begins: what the last one was sent is not the caller's. */
  forget(): void {
    this.kept = undefined;
  }

  /**
   * The call settles: its caller is told the metadata of the attempt that settled it, if a
   * server answered that attempt (nothing when it failed on this side: a timeout, a cancel, a
   * lost connection). One that throws is logged, as a connection logs it.
   */
  tell(logger: Logger, remote: string | (() => string), action: string | number): void {
    const md = this.kept;
    if (md === undefined) return;
    this.kept = undefined;
    notifyGuarded(logger, remote, action, this.told, md, undefined, CALL_MD_THREW);
  }
}
