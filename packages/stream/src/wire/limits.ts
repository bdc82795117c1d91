import { invalidArgument, withDefaults, type OptionalFields } from '@skein/core';
import { MAX_BLOB_WIRE, MAX_MESSAGE_WIRE, RESPONSE_HEADER_LENGTH } from './protocol.js';

/** Bounds on every length a peer sends. A frame over any of them closes its connection. */
export interface Limits {
  /** Structured message bytes per frame. Default 16 MiB. */
  maxMessage: number;
  /** Blob bytes per frame. Default 64 MiB (the protocol's ceiling is 2^31-1). */
  maxBlob: number;
  /** Action string bytes. Default 1 KiB. */
  maxAction: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = {
  maxMessage: 16 * 1024 * 1024,
  maxBlob: 64 * 1024 * 1024,
  maxAction: 1024,
};

export function resolveLimits(partial: OptionalFields<Limits> = {}): Limits {
  // A limit given as undefined (a config's unset value) is the default, not a bad value.
  const l = withDefaults<Limits>(DEFAULT_LIMITS, partial);
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isInteger(v) || v < 0) throw invalidArgument(`limits.${k} must be a non-negative integer, got ${v}`);
  }
  if (l.maxBlob > MAX_BLOB_WIRE) throw invalidArgument(`limits.maxBlob cannot exceed ${MAX_BLOB_WIRE}`);
  if (l.maxMessage > MAX_MESSAGE_WIRE) throw invalidArgument('limits.maxMessage cannot exceed 2^32-1');
  return l;
}

/**
 * What a peer takes in the responses we send it: the server checks each reply against these
 * before writing, so that an oversized reply fails its own call instead of the peer's connection.
 */
export interface ReplyLimits {
  /** Bytes of an ok reply's message. */
  readonly maxMessage: number;
  /** Bytes of an ok reply's blob. */
  readonly maxBlob: number;
  /** Bytes of an error string: a client checks those against both of its limits. */
  readonly maxError: number;
  /**
   * Bytes of an ok reply's message and blob together: what the largest frame the client's
   * transport carries leaves after the header (its hello's max_frame), else both limits' sum.
   * Optional, as a limits object made before it (a pool's own, @skein/workers) is: no such bound.
   */
  readonly maxBody?: number;
  /** The largest whole reply frame the client's transport carries, as its hello named it; left out where it named none. */
  readonly maxFrame?: number;
}

/** A peer that told us nothing (razor-rpc, or a Skein client without the hello): only the wire's own ceilings. */
export const WIRE_REPLY_LIMITS: ReplyLimits = replyLimits(MAX_MESSAGE_WIRE, MAX_BLOB_WIRE);

/**
 * The reply limits of a peer that receives at most `maxMessage` and `maxBlob` bytes, capped at
 * the wire's ceilings, and no frame over `maxFrame` (header included) when it names one: each
 * limit is then cut to what such a frame holds, so the checks replies already pass take it in
 * (and a reply whose parts fit but not together, `maxBody`).
 */
export function replyLimits(maxMessage: number, maxBlob: number, maxFrame?: number): ReplyLimits {
  const room = maxFrame === undefined ? Infinity : Math.max(0, maxFrame - RESPONSE_HEADER_LENGTH);
  const m = Math.min(maxMessage, MAX_MESSAGE_WIRE, room);
  const b = Math.min(maxBlob, MAX_BLOB_WIRE, room);
  const limits = { maxMessage: m, maxBlob: b, maxError: Math.min(m, b), maxBody: Math.min(m + b, room) };
  return maxFrame === undefined ? limits : { ...limits, maxFrame };
}

/**
 * Whether the peer's frame cap cut `limits` (`maxBody` under both limits' sum): then a frame over
 * the cap is what the limits let through, and the words for it name the cap. A WebSocket side
 * names its cap even where every frame its limits allow fits (it bounds a batch too,
 * wire/frame-cap-named.ts): there a frame over it has a part over a limit, which the words name.
 */
export function frameCapCutLimits(limits: ReplyLimits): boolean {
  return (limits.maxBody ?? Infinity) < limits.maxMessage + limits.maxBlob;
}
