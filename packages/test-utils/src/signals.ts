import { getEventListeners, setMaxListeners } from 'node:events';

/**
 * A signal that outlives the calls given it, as an application's shutdown signal does: what a
 * settled call leaves on it is a leak. Node's warning at 11 listeners is off, as thousands of
 * calls at once legitimately listen to it.
 */
export function longLivedSignal(): AbortSignal {
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  return signal;
}

/** The abort listeners on `signal` now: 0 once every call given it settled. */
export function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}
