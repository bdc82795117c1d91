import { ErrorCode, RpcError, extended } from '@skein/core';
import type { CallOptions } from '@skein/stream';
import type { CallContext } from './context.js';
import { linkedSignal, noop } from './linked-signal.js';

/** A call's options with what it inherits, and `release`, to call once the call settled. */
export interface Inherited {
  readonly opts: CallOptions;
  /** Unhooks the call from its own signal when it was linked to the handler's: a long-lived one must not gain a listener per call. */
  readonly release: () => void;
}

/**
 * The options of a call a handler makes on its own call's behalf (`{ ctx }`): it may take what is
 * left of that call's deadline, by the server's clock (no guess at network time), and is
 * cancelled with it. So a cancel or a deadline reaches through any number of hops.
 */
export function inherit(o: CallOptions, ctx: CallContext): Inherited {
  const left = ctx.remainingMs();
  if (left !== undefined && left <= 0) {
    throw new RpcError(ErrorCode.Timeout, 'the deadline of the call this one was made for has passed', { retry: 'safe' });
  }
  const timeoutMs = left === undefined ? o.timeoutMs : o.timeoutMs === undefined ? left : Math.min(o.timeoutMs, left);
  if (o.signal === undefined) return { opts: extended(o, { timeoutMs, signal: ctx.signal }), release: noop };
  const { signal, release } = linkedSignal(o.signal, ctx.signal);
  return { opts: extended(o, { timeoutMs, signal }), release };
}
