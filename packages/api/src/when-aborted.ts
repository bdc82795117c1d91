import type { RpcError } from '@skein/core';
import { abortedAlready, hookAbort, type AbortSource, type CallOptions } from '@skein/stream';

export function noop(): void {}

/**
 * Calls `onAbort` once, when a call's signal or its abort source (a handler's context) fires (at
 * once if one has), and returns what unhooks it: a long-lived signal keeps no listener of a call
 * that ended without its help. Hooked as every carrier hooks a call (stream's `hookAbort`), and
 * told what a carrier would fail the call with (`why`: Cancelled, or Timeout when the source's
 * deadline passed, with no cause, or when the signal's reason is a timeout, with that reason as cause).
 */
export function whenAborted(signal: AbortSignal | undefined, source: AbortSource | undefined, onAbort: (why: RpcError) => void): () => void {
  const cancellers: CallOptions = { signal, abortSource: source };
  const already = abortedAlready(cancellers);
  if (already !== undefined) {
    onAbort(already);
    return noop;
  }
  let fired = false;
  const unhook = hookAbort(cancellers, (why) => {
    if (fired) return;
    fired = true;
    unhook();
    onAbort(why);
  });
  return unhook;
}
