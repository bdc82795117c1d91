import { withoutStack, type RpcError } from '@skein/core';
import { cancelled, sourceEnded } from './call.js';
import type { AbortSource, CallOptions } from './call-options.js';
import { noop } from '../internals/abort-listeners.js';
import { listenToSignal } from '../internals/signal-listeners.js';

/** Why a call may not start: what cancels it (its signal, its abort source) has aborted already. */
export function abortedAlready(opts: CallOptions): RpcError | undefined {
  if (opts.signal?.aborted === true) return cancelled(opts.signal.reason);
  return opts.abortSource?.aborted === true ? sourceEnded(reasonOf(opts.abortSource)) : undefined;
}

/** The reason an abort source that has aborted aborted with: it tells a listener at once. */
function reasonOf(source: AbortSource): unknown {
  let reason: unknown;
  source.onAbort((r) => (reason = r))();
  return reason;
}

/** Something may cancel the call (a signal, an abort source): the server must be able to stop it too. */
export function cancellable(opts: CallOptions): boolean {
  return opts.signal !== undefined || opts.abortSource !== undefined;
}

/**
 * Hooks `onAbort` to what cancels a call (its signal, its abort source, or both, when it may be
 * told twice) and returns the unhook. Checked with `abortedAlready` first: an abort source that
 * has aborted tells its listener at once. One that tells while being hooked all the same (it
 * said it had not aborted, or aborted on being asked) is heard a microtask later, once its
 * carrier has the call where its `onAbort` looks for it (on the wire, in its line), never half-placed.
 */
export function hookAbort(opts: CallOptions, onAbort: (why: RpcError) => void): () => void {
  const { signal, abortSource } = opts;
  // Stackless: one signal may abort many calls in one turn, where capturing a stack each was
  // most of it. A stack here named the signal's listener and, above it, whoever aborted: the
  // signal's reason, the error's cause, still does (a DOMException made in `abort()` has that
  // stack). An abort known at the call itself (`abortedAlready`) keeps its stack, made in the
  // caller's call. An abort source's reason is not a cause: it is the handler's own end (its
  // client's cancel, its connection lost), not this call's; only its deadline is this call's
  // too (`sourceEnded`: Timeout).
  let unhookSource = noop;
  if (abortSource !== undefined) {
    let reason: unknown;
    const told = (): void => onAbort(withoutStack(() => sourceEnded(reason)));
    let hooking = true;
    let toldMeanwhile = false;
    unhookSource = abortSource.onAbort((r) => {
      reason = r;
      if (hooking) toldMeanwhile = true;
      else told();
    });
    hooking = false;
    if (toldMeanwhile) queueMicrotask(told);
  }
  if (signal === undefined) return unhookSource;
  // Not a listener on the signal per call: one signal is often given many calls (see signal-listeners.ts).
  const unhookSignal = listenToSignal(signal, () => onAbort(withoutStack(() => cancelled(signal.reason))));
  if (abortSource === undefined) return unhookSignal;
  return () => {
    unhookSource();
    unhookSignal();
  };
}
