import type { CallContext } from './context.js';
import type { Metadata } from '@skein/stream';

/**
 * What a stub call takes. Not `idempotent` nor `blob` (CallOptions for a raw Caller): those are
 * the method's definition's (`.idempotent()`, `.blob()`), and a call that passes one anyway (plain
 * JS, a pool call's CallOptions reused) is refused with InvalidArgument rather than ignored.
 */
export interface MethodCallOptions {
  timeoutMs?: number | undefined;
  /** Aborting rejects the call at once with Cancelled and frees its window slot; with Timeout when its reason is a timeout (`AbortSignal.timeout(ms)`). */
  signal?: AbortSignal | undefined;
  /** For pools: the key a route function or consistent hash picks a server by. */
  route?: string | undefined;
  /**
   * For a FailoverPool (unary calls; a stream ignores it): caps each attempt at this many ms,
   * in place of the pool's `attemptTimeoutMs`, within `timeoutMs`, which bounds the whole call:
   * a server that hangs is given up for another while time is left (only a `.idempotent()`
   * method's call retries after a Timeout). A ClientStream or ConnPool ignores it.
   */
  attemptTimeoutMs?: number | undefined;
  /** Small key/value entries the server reads as `ctx.metadata` (a bearer token, a trace context). */
  metadata?: Metadata | undefined;
  /**
   * Told the metadata the handler sent back (`ctx.setReplyMetadata`) once, as the server's
   * answer comes, ok or error, before the call's promise settles; for a streaming method, as its
   * end comes (gRPC's trailers), before the reader's `for await` ends or its error is thrown (a
   * client stream's: before its result settles). Empty when it sent none, or the server does not
   * send any (a razor v1 or older Skein server). Not told when the call or stream fails on this
   * side (a timeout, a cancel, a `break`, a lost connection); a pool tells a call's once, for the
   * attempt that settles it (not what a server sent back with a refusal the pool sent elsewhere).
   */
  onReplyMetadata?: ((metadata: Metadata) => void) | undefined;
  /**
   * For a ConnPool (as `route` is for pools): while it cannot reach its server, fail at once with
   * Unreachable (`retry: 'safe'`) instead of waiting out its connect budget. A FailoverPool
   * decides this per attempt itself; a ClientStream has no budget and ignores it.
   */
  failFast?: boolean | undefined;
  /**
   * The context of the handler this call is made from: the call takes what is left of that
   * call's deadline (with `timeoutMs`, the shorter) and is cancelled when it is.
   */
  ctx?: CallContext | undefined;
}

/** Shared by calls made without options: no object per call. Frozen, so nothing below can change it. */
export const NO_OPTIONS: MethodCallOptions = Object.freeze({});
