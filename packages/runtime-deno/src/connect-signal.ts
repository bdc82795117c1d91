/**
 * A signal for `Deno.connect` that cancels a connect under way but never discards one that is
 * done. Deno's `connect` ends with `signal.throwIfAborted()` in a `finally`, run after its op may
 * have opened the socket: aborted as the connect completes, it throws, and the TcpConn it made is
 * neither returned nor closed, so the socket stays open while the process lives (1,500 connects
 * aborted 0-2 ms in, 10 to 30 at once: 22 to 71 left open; Deno 2.9.6). Deno's `signal` came with
 * denoland/deno#27113; denoland/deno#33927 is the same abort-after-completion leak in its fetch.
 * This signal's `throwIfAborted` does nothing, so such a connect resolves, and the caller closes
 * the connection it gave (connect.ts's `abortable`). Were Deno to stop calling the method, this
 * would change nothing else: the leak would only be back (test/deno-connect-abort-race.test.ts).
 */
export function cancelOnly(controller: AbortController): AbortSignal {
  const { signal } = controller;
  Object.defineProperty(signal, 'throwIfAborted', { value: () => {} });
  return signal;
}
