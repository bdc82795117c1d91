import { abortedAlready, hookAbort, type AbortSource, type CallOptions } from '@skein/stream';

export function noop(): void {}

/**
 * Calls `onAbort` once, when a call's signal or its abort source (a handler's context) fires (at
 * once if one has), and returns what unhooks it: a long-lived signal keeps no listener of a call
 * that ended without its help. Hooked as every carrier hooks a call (stream's `hookAbort`).
 */
export function whenAborted(signal: AbortSignal | undefined, source: AbortSource | undefined, onAbort: () => void): () => void {
  const cancellers: CallOptions = { signal, abortSource: source };
  if (abortedAlready(cancellers) !== undefined) {
    onAbort();
    return noop;
  }
  let fired = false;
  const unhook = hookAbort(cancellers, () => {
    if (fired) return;
    fired = true;
    unhook();
    onAbort();
  });
  return unhook;
}
