import type { FrameListener } from '@skein/core';
import { bounded } from './bounded.js';

/**
 * Closes a listener a check opened of its own (its connections closed first), bounded: a
 * `FrameListener.close()` that never resolves would otherwise hang the check until the
 * scenario's bound, which can only say that no connection shows why. Rejects after `boundMs`
 * naming the listener's close, as the graceful-close test names the server's.
 */
export function ownListenerClosed(listener: FrameListener, where: string, boundMs: number): Promise<void> {
  return bounded(listener.close(), boundMs, () =>
    `the transport's FrameListener.close() of the kit's own listener at ${where} has not resolved ${boundMs} ms after it was called, its connections closed: it must resolve once the listener stops accepting (docs/transports.md, "The connection lifecycle")`,
  );
}
