/**
 * The refusals a Skein client makes of a call or stream itself, before sending anything, because
 * of what the caller asked (a bad action, timeout or metadata, a request over its own limits):
 * its InvalidArgument and FrameTooLarge. Its server did nothing, so they say nothing of it: a
 * FailoverPool's breaker and outlier score count them neither as a success nor as a failure
 * (server-health.ts `observe`). A server's own answer with the same code is not marked: its
 * handler ran, a success for its health. (A refusal over the server's declared limits says so
 * by itself: FrameTooLarge, `retry: 'safe'`; see failover-rules.ts `overLimitsUnsent`.)
 *
 * So are the ends of a call or stream its pool never sent for want of its caller's patience, the
 * server not at fault: cancelled (its signal, its abort source) while it waited for a connection
 * or before, and timed out waiting for one with no connect failed (for room behind full windows,
 * or a first connect still under way; pool/waiting-calls.ts `neverSent`). One that timed out
 * after a failed connect is not marked: that connect was its server's failure.
 *
 * Kept in a set, not a field, as unanswered-mark.ts: every RpcError keeps one shape.
 */
const marked = new WeakSet<object>();

/** Marks `err` as this client's refusal of a call or stream it never sent; returns it. */
export function markRefusedUnsent<E>(err: E): E {
  if (typeof err === 'object' && err !== null) marked.add(err);
  return err;
}

/** True for this client's own refusal of a call or stream it never sent (`markRefusedUnsent`). */
export function refusedUnsent(err: Error): boolean {
  return marked.has(err);
}
