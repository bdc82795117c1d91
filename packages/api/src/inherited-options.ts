import { ErrorCode, RpcError, extended } from '@skein/core';
import type { CallOptions } from '@skein/stream';
import type { CallContext } from './context.js';

/**
 * The options of a call a handler makes on its own call's behalf (`{ ctx }`): it may take what is
 * left of that call's deadline, by the server's clock (no guess at network time), and is
 * cancelled with it, through `abortSource` (beside its own `signal`, if it has one): no
 * AbortSignal is made for the link, and the carrier unhooks it when the call settles. So a
 * cancel or a deadline reaches through any number of hops.
 */
export function inherit(o: CallOptions, ctx: CallContext): CallOptions {
  const left = ctx.remainingMs();
  if (left !== undefined && left <= 0) {
    throw new RpcError(ErrorCode.Timeout, 'the deadline of the call this one was made for has passed', { retry: 'safe' });
  }
  const timeoutMs = left === undefined ? o.timeoutMs : o.timeoutMs === undefined ? left : Math.min(o.timeoutMs, left);
  return extended(o, { timeoutMs, abortSource: ctx });
}
