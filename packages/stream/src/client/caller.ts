import { fromDownstream } from '@skein/core';
import type { Notify, Reply } from './call.js';
import type { CallOptions } from './call-options.js';
import type { StreamCall } from './stream-call.js';

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
  /**
   * The timeout (ms) of a call sent without one: the `timeoutMs` the carrier was made with.
   * Optional (a Caller of your own may have none), but a Caller that wraps another passes it on:
   * @skein/api bounds a client filter's wait for such a call by it, as the carrier bounds the call.
   */
  readonly timeoutMs?: number;
}

/**
 * A Caller's default timeout (`timeoutMs`) as a number, or undefined: read by what wraps or
 * hands on a Caller (@skein/api's filter waits, @skein/workers' calls back). A Caller of your own
 * whose getter throws or gives no number counts as having none: read outside a call's promise, a
 * throw would reach whoever made the call synchronously.
 */
export function callerTimeoutMs(caller: Caller): number | undefined {
  try {
    const ms = caller.timeoutMs;
    return typeof ms === 'number' ? ms : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A carrier that opens streams (docs/protocol.md, "Streams"): a ClientStream, a ConnPool or a
 * FailoverPool (a pool's stream stays on the connection it opened on). What a typed API's
 * streaming methods sit on: a server stream is `openStream` then reading, a client stream
 * `write()`s then `end()` and awaits `result`, both ways does both.
 */
export interface StreamCaller extends Caller {
  openStream(action: string | number, msg?: Uint8Array, opts?: CallOptions): StreamCall;
}

/**
 * The promise form, written once for every carrier: `call` is `send` with a promise around it.
 * Its failures are a downstream's (`fromDownstream`), a carrier's own refusals too (a pool's
 * picker naming an address): a handler that passes one on does not speak to its caller with it.
 */
export function promised(carrier: Caller, action: string | number, msg: Uint8Array, opts: CallOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    try {
      carrier.send(action, msg, opts, (err, reply) => (err ? reject(fromDownstream(err)) : resolve(reply!)));
    } catch (err) {
      reject(fromDownstream(err));
    }
  });
}
