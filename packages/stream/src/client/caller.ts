import type { Notify, Reply } from './call.js';
import type { CallOptions } from './call-options.js';

/**
 * Anything that can carry a call: a ClientStream, a ConnPool or a FailoverPool. The one
 * interface a typed client (`@skein/api`) needs, so stubs work over any of them.
 */
export interface Caller {
  /**
   * Sends a call and reports its outcome through `notify`, once: no promise per call (the hot
   * path). Carriers also have `call()`, the promise form, built on this.
   */
  send(action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify): void;
}

/** The promise form, written once for every carrier: `call` is `send` with a promise around it. */
export function promised(carrier: Caller, action: string | number, msg: Uint8Array, opts: CallOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    carrier.send(action, msg, opts, (err, reply) => (err ? reject(err) : resolve(reply!)));
  });
}
