/**
 * The Timeouts (`retry: 'never'`) of calls that were on the wire, unanswered, when the call they
 * were made for passed its deadline (their abort source: client/call.ts's `sourceEnded`). Such a
 * call waited on its server as long as its own timer would have (it was made with what was left
 * of that deadline, and the first of the two to fire decides), so it says as much of the server
 * as a call's own Timeout: a FailoverPool's breaker and outlier score count it. One never sent
 * (made after its source ended, or still waiting for a connection or a slot) says nothing of it.
 *
 * Kept in a set, not a field: every RpcError keeps one shape, and only these few are marked.
 */
const marked = new WeakSet<Error>();

/** Marks `err`, the end of a call its connection had sent and not seen answered. */
export function markUnanswered(err: Error): void {
  marked.add(err);
}

/** True for the end (`sourceEnded`) of a call that was on the wire unanswered. */
export function isUnanswered(err: Error): boolean {
  return marked.has(err);
}
