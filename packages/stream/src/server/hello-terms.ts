import type { Agreed } from '../wire/agreed.js';
import type { ReplyLimits } from '../wire/limits.js';

/**
 * The terms a hello settled (the client's reply limits, the extensions agreed), shared by every
 * connection that settled the same ones: a server's clients nearly all send the same hello, and
 * two small objects per connection add up at 10,000 idle ones (docs/benchmarks.md, "Memory").
 * One object of each is remembered, the last one seen; both are read-only.
 */
let lastLimits: ReplyLimits | undefined;
let lastAgreed: Agreed | undefined;

/** `limits`, or an equal object an earlier connection already holds (every field compared: a new field of ReplyLimits belongs here too). */
export function sharedLimits(limits: ReplyLimits): ReplyLimits {
  const last = lastLimits;
  if (last !== undefined && last.maxMessage === limits.maxMessage && last.maxBlob === limits.maxBlob && last.maxError === limits.maxError && last.maxBody === limits.maxBody && last.maxFrame === limits.maxFrame) return last;
  return (lastLimits = limits);
}

/** A connection's terms before any hello agreed some (a razor v1 peer): no extension at all. */
export const NONE_AGREED: Agreed = Object.freeze({ cancel: false, maxHead: 0, streams: undefined });

/** `agreed`, or an equal object an earlier connection already holds (every field compared, as above). */
export function sharedAgreed(agreed: Agreed): Agreed {
  const last = lastAgreed;
  if (last !== undefined && last.cancel === agreed.cancel && last.maxHead === agreed.maxHead && sameWindows(last, agreed)) return last;
  return (lastAgreed = agreed);
}

function sameWindows(a: Agreed, b: Agreed): boolean {
  if (a.streams === undefined || b.streams === undefined) return a.streams === b.streams;
  return a.streams.toServer === b.streams.toServer && a.streams.toClient === b.streams.toClient;
}
