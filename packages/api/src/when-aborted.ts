import type { AbortSource } from '@skein/stream';

export function noop(): void {}

/**
 * Calls `onAbort` once, when a call's signal or its abort source (a handler's context) fires (at
 * once if one has), and returns what unhooks it: a long-lived signal keeps no listener of a call
 * that ended without its help.
 */
export function whenAborted(signal: AbortSignal | undefined, source: AbortSource | undefined, onAbort: () => void): () => void {
  if (signal?.aborted === true || source?.aborted === true) {
    onAbort();
    return noop;
  }
  let fired = false;
  const fire = (): void => {
    if (fired) return;
    fired = true;
    release();
    onAbort();
  };
  const unhookSource = source === undefined ? noop : source.onAbort(fire);
  signal?.addEventListener('abort', fire, { once: true });
  const release = (): void => {
    unhookSource();
    signal?.removeEventListener('abort', fire);
  };
  return release;
}
