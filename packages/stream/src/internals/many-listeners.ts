/**
 * Lifts Node's warning threshold (11 listeners: "MaxListenersExceededWarning: Possible
 * EventTarget memory leak detected") off a signal that many calls listen to at once by design:
 * a connection's, which every plain call running on it takes as its own (api's `ctx.signal`, a
 * `fetch` given it). Each removes its listener when it ends, so the count follows the calls in
 * flight, bounded by `maxInFlightPerConn`, not a leak. `node:events` is reached through
 * `process.getBuiltinModule` (Node 20.16+, Bun, Deno) rather than imported, so that this package
 * still loads where there is no `node:events` (a browser bundle): there, nothing warns anyway.
 */
export function manyListeners(signal: AbortSignal): AbortSignal {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const events = proc?.getBuiltinModule?.('node:events') as { setMaxListeners?: (n: number, ...targets: EventTarget[]) => void } | undefined;
  events?.setMaxListeners?.(0, signal);
  return signal;
}
