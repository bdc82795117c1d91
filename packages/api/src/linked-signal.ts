/**
 * A signal that aborts when either of two does, and a `release` that unhooks it from both.
 * `AbortSignal.any` would do the first, but each signal it makes stays registered on its
 * sources (Node 20 keeps a weak reference per made signal in a set that is pruned only when a
 * source aborts or is collected): a long-lived source, such as a shutdown signal given to
 * every call a handler makes, gains an entry per call, for ever. Here the link is two
 * listeners, removed when the call settles.
 */
export function linkedSignal(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; release: () => void } {
  if (a.aborted) return { signal: a, release: noop };
  if (b.aborted) return { signal: b, release: noop };
  const linked = new AbortController();
  const release = (): void => {
    a.removeEventListener('abort', fromA);
    b.removeEventListener('abort', fromB);
  };
  const fromA = (): void => {
    release();
    linked.abort(a.reason);
  };
  const fromB = (): void => {
    release();
    linked.abort(b.reason);
  };
  a.addEventListener('abort', fromA, { once: true });
  b.addEventListener('abort', fromB, { once: true });
  return { signal: linked.signal, release };
}

export function noop(): void {}

/**
 * Calls `onAbort` once, when either signal aborts (at once if one has), and returns what unhooks
 * it: a long-lived signal keeps no listener of a call that ended without its help.
 */
export function whenAborted(a: AbortSignal | undefined, b: AbortSignal | undefined, onAbort: () => void): () => void {
  if (a?.aborted || b?.aborted) {
    onAbort();
    return noop;
  }
  const release = (): void => {
    a?.removeEventListener('abort', fire);
    b?.removeEventListener('abort', fire);
  };
  const fire = (): void => {
    release();
    onAbort();
  };
  a?.addEventListener('abort', fire, { once: true });
  b?.addEventListener('abort', fire, { once: true });
  return release;
}
