import { ErrorCode, RpcError } from '@skein/core';
import type { AnyMethod } from './define.js';

/**
 * The CallOptions a typed stub takes from its method's definition, never from a call: in plain
 * JS (or a pool call's CallOptions reused for a stub call) nothing else stops a caller passing
 * them, and one that contradicts the definition, silently dropped, would leave the caller believing a call may be retried after a
 * timeout when it may not (or the reverse), or that bytes went with it that did not. So a call
 * that contradicts it is refused, before any filter runs or any byte is sent (an `idempotent`
 * that agrees changes nothing, and passes; a `blob` never does: a blob goes by `withBlob`).
 *
 * Only read when the options object says it: an ordinary call pays two property reads.
 */
export function unheededOption(o: object, m: AnyMethod): RpcError | undefined {
  const { idempotent, blob } = o as { idempotent?: unknown; blob?: unknown };
  // One that agrees with the definition changes nothing (a shared options object may carry it).
  if (idempotent !== undefined && idempotent !== (m.stream ? false : m.isIdempotent === true)) {
    const declared = m.stream ? 'a pool never opens a stream twice' : m.isIdempotent ? 'this one is declared .idempotent()' : 'this one is not: declare .idempotent() on the method if it may run twice';
    return new RpcError(
      ErrorCode.InvalidArgument,
      `the call option idempotent (${String(idempotent)}) is not taken by a typed stub: only the method's definition says whether a pool may run it twice, and ${declared}`,
    );
  }
  if (blob !== undefined) {
    const how = m.blobs ? 'pass withBlob(value, bytes) as its argument' : 'declare .blob() on the method and pass withBlob(value, bytes) as its argument';
    return new RpcError(ErrorCode.InvalidArgument, `the call option blob is not taken by a typed stub: to send bytes beside the value, ${how}`);
  }
  return undefined;
}
