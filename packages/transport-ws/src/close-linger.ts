/**
 * The default `lingerMs`: how long a peer this side gave up on (a failure, `close()`, a protocol
 * error) has to answer the close frame before its connection is dropped, as the TCP transport's
 * `lingerMs` (same default). ws would wait 30 s, Bun's WebSocket about as long, and a hostile peer
 * never answers, holding its socket and whatever it left half sent.
 */
export const CLOSE_LINGER_MS = 2_000;

/**
 * Calls `drop` once `lingerMs` have passed, unless the returned function is called first
 * (the closing handshake is done). The timer never keeps a process alive on its own.
 */
export function lingerThen(lingerMs: number, drop: () => void): () => void {
  const timer = setTimeout(drop, lingerMs);
  (timer as { unref?: () => void }).unref?.();
  return () => clearTimeout(timer);
}
