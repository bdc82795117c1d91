import type { Metadata } from '../wire/call-head.js';

/**
 * What a caller may say about one call. One type for every carrier: a ClientStream reads the
 * first three; pools read the rest too, and a carrier ignores what does not apply to it.
 */
export interface CallOptions {
  /** The unstructured bytes sent after the message. */
  blob?: Uint8Array | undefined;
  /**
   * This call's timeout, in place of the carrier's default: how long its caller waits. On a
   * FailoverPool it bounds the whole call, every attempt and wait and redirect together (as a
   * gRPC deadline does): each retry is given what is left, and none starts once nothing is.
   * A call's own timeoutMs travels to the server (when it agreed call heads) as the time left:
   * the handler sees it as its deadline (a FailoverPool's retry sends what is left of the
   * default too).
   */
  timeoutMs?: number | undefined;
  /**
   * Aborting fails the call with Cancelled wherever it waits, and frees its window slot; with
   * Timeout (`retry: 'never'`, the reason as cause) when its reason is a timeout
   * (`AbortSignal.timeout(ms)`'s TimeoutError, a handler's `ctx.signal` past its deadline). On the
   * wire (to a server that agreed it in the hello) a cancel frame follows either way: the
   * handler's signal fires and its answer is dropped.
   */
  signal?: AbortSignal | undefined;
  /**
   * For library authors: what cancels the call as `signal` does, telling its abort to a listener
   * with no AbortSignal made for it. A handler's calls made with `{ ctx }` (@skein/api) carry
   * their call's context this way: on Node 20 an AbortSignal and a listener on it cost a busy
   * server several µs a call, more than the rest of a hop. Every carrier honours it wherever it
   * honours `signal`; a call may have both.
   */
  abortSource?: AbortSource | undefined;
  /**
   * Small key/value entries sent with the call (a bearer token, a trace context), read on the
   * server as `req.metadata`. Travels only to a server that agreed call heads in the hello (a
   * razor v1 peer gets the plain call without them); at most 8 KiB encoded by default.
   */
  metadata?: Metadata | undefined;
  /**
   * Told the metadata the server sent back with its answer (docs/protocol.md, "Reply metadata";
   * a handler's `req.setReplyMetadata`, `ctx.setReplyMetadata` in @skein/api), once, as that
   * answer comes (ok or an error the server sent), before the call settles: empty when it sent
   * none, and from a server whose hello did not agree it (a razor v1 or older Skein server).
   * On a stream (`openStream`), told as its end comes (its answer: gRPC's trailers), before the
   * end reaches its reader (the last `for await` turn, `result`). Not told when the call or
   * stream fails on this side (a timeout, a cancel, a lost connection). A pool tells a call's
   * once, for the attempt that settles it: not what a server sent back with a refusal the pool
   * sent elsewhere (a FailoverPool's retry, a ConnPool's resend). At most the client's
   * `limits.maxReplyMetadata` (8 KiB by default). A callback that throws is logged; the call or
   * stream settles all the same.
   */
  onReplyMetadata?: ((metadata: Metadata) => void) | undefined;
  /** The key the 'hash' strategy or a picker function picks a server by (FailoverPool), or a cluster's route function picks a member by. */
  route?: string | undefined;
  /** The method may run twice: it may then be retried after a timeout or a lost connection (FailoverPool). */
  idempotent?: boolean | undefined;
  /**
   * FailoverPool, calls only: caps each attempt at this many ms (in place of the pool's
   * `attemptTimeoutMs`), within `timeoutMs`: an attempt gets the shorter of this and what is
   * left, and one that times out so leaves time for another (an idempotent call's). Other
   * carriers, and a pool's streams, ignore it.
   */
  attemptTimeoutMs?: number | undefined;
  /**
   * While a ConnPool cannot reach its server (in backoff, or reconnecting after one), fail at
   * once with Unreachable (`retry: 'safe'`) instead of waiting out the connect budget.
   */
  failFast?: boolean | undefined;
}

/**
 * What cancels a call without an AbortSignal (`CallOptions.abortSource`): a server's request
 * (`ServerRequest`) and a handler's context (@skein/api's `CallContext`) are ones.
 */
export interface AbortSource {
  /** It has aborted: a call made with it fails at once, unsent: Timeout when its reason is a timeout (a deadline passed: core's `isTimeoutReason`), else Cancelled. */
  readonly aborted: boolean;
  /** `listener` is told the reason once, at the abort (at once when it has come); returns its unhook. */
  onAbort(listener: (reason: unknown) => void): () => void;
  /**
   * A server's request (ServerRequest), or what speaks for one (@skein/api's
   * CallContext): it came over `conn` (its ServerConn) and is not answered yet. Public, not
   * internal: a sibling package (api's CallContext) implements it by asking its ServerRequest. A closing server
   * sends a reverse call made with such a source (`abortSource: req`, `{ ctx }`) over that connection,
   * as the drain waits for its handler; any other is refused (ReverseCaller.send). Read only then.
   */
  unansweredOn?(conn: object): boolean;
}

/**
 * The options of a call or stream a pool failed for good (while it waited, or after its last
 * attempt): a pool may hold the call a while longer (a waiting line, until a later shift), so it
 * drops what its options held (a signal, metadata, a blob) at once, while its field stays a
 * CallOptions every reader reads without a check. One shared object: frozen, as all such calls hold it.
 */
export const NO_OPTS: CallOptions = Object.freeze({});
