import type { CallOptions, Notify } from '@skein/stream';

/**
 * Anything that can carry a call: a ClientStream, or a pool. The one interface a typed client
 * needs.
 */
export interface Caller {
  send(action: string, msg: Uint8Array, opts: CallerOptions, notify: Notify): void;
}

export interface CallerOptions extends CallOptions {
  /** For pools: which server a call goes to (consistent hash, sticky routing). */
  route?: string;
  /** For pools: the method may be retried after it may have run. */
  idempotent?: boolean;
}
