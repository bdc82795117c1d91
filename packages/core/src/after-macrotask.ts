type Schedule = (fn: () => void) => unknown;

const host = globalThis as { setImmediate?: Schedule };

/**
 * Runs `fn` once the current macrotask is over: after every microtask queued until then (on
 * Node, after the other I/O callbacks of the same loop iteration too), before the event loop
 * blocks waiting for more. setImmediate where the platform has it (Node, Bun, recent
 * Deno), else a 0 ms timer (browsers, older Deno), which may come a little later but never
 * before the microtasks are done either.
 */
export const afterMacrotask: Schedule =
  typeof host.setImmediate === 'function' ? host.setImmediate.bind(globalThis) : (fn) => setTimeout(fn, 0);
