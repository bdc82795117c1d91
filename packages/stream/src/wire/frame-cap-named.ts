/**
 * Whether a hello names the largest frame this side's transport carries (`max_frame`: kind 1's in
 * the client's offer, kind 26's in the server's answer), and which: the cap (FrameConn.maxFrameBytes)
 * wherever the peer could send a unit over it. That is where a single frame the limits allow
 * does not fit (`largestFrame` over it), and, whatever the limits, where the transport packs
 * several frames into one unit the cap bounds (a WebSocket message holds a batch of up to
 * `maxBatchBytes`): there frames each within the cap went out together over it (1009, the
 * connection lost with every call on it), and named, the peer cuts its units at it
 * (FrameConn.setPeerMaxFrameBytes). Such a transport is the one whose connections implement
 * `setPeerMaxFrameBytes` (`packs`): both ends of a connection run the same transport, so the
 * peer packs as this side does. A byte stream's cap (TCP's `maxPendingFrameBytes`) bounds each
 * frame alone: named only where a frame could be over it, so a TCP hello stays as it was.
 * Undefined: named nowhere (no cap, an infinite one, or one no unit the peer sends can pass).
 */
export function frameCapToName(maxFrameBytes: number | undefined, largestFrame: number, packs: boolean): number | undefined {
  if (maxFrameBytes === undefined || maxFrameBytes === Infinity) return undefined;
  return packs || maxFrameBytes < largestFrame ? maxFrameBytes : undefined;
}
