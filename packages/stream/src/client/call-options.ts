/**
 * What a caller may say about one call. One type for every carrier: a ClientStream reads the
 * first three; pools read the rest too, and a carrier ignores what does not apply to it.
 */
export interface CallOptions {
  /** The unstructured bytes sent after the message. */
  blob?: Uint8Array;
  /**
   * This call's timeout, in place of the carrier's default. A FailoverPool applies it to each
   * attempt (as razor-rpc does), so a call that fails over may take (retries + 1) × timeoutMs;
   * an AbortSignal bounds the whole call.
   */
  timeoutMs?: number;
  /** Aborting fails the call with Cancelled wherever it waits, and frees its window slot. */
  signal?: AbortSignal;
  /** The key the 'hash' strategy or a picker function picks a server by (FailoverPool), or a cluster's route function picks a member by. */
  route?: string;
  /** The method may run twice: it may then be retried after a timeout or a lost connection (FailoverPool). */
  idempotent?: boolean;
  /**
   * While a ConnPool cannot reach its server (in backoff, or reconnecting after one), fail at
   * once with Unreachable (`retry: 'safe'`) instead of waiting out the connect budget.
   */
  failFast?: boolean;
}
