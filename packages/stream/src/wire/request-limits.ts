import { EMPTY_BYTES } from '@skein/core';
import { HelloError, HelloKind, type HelloEntry } from './hello.js';
import type { Limits } from './limits.js';
import { ACTION_LEN_MASK, REQUEST_HEADER_LENGTH } from './protocol.js';
import { frameCapToName } from './frame-cap-named.js';

/**
 * The server's request limits (docs/protocol.md, "The hello"). A request over the limits of its
 * connection's kind is refused at its header (FrameTooLarge to its seq) and the connection is
 * closed, for the server cannot skip a body it will not hold: one oversized call costs the client
 * its connection and, without the server's goodbye, every call behind it reads "may have run".
 * Kind 1 tells the server the client's receive limits; this kind tells the client the server's,
 * so that a client refuses such a request unsent (FrameTooLarge, `retry: 'safe'`) and keeps its
 * connection. A server answers it only to a client that offered it; razor v1 peers and older
 * Skein servers never see it.
 *
 * - hello kind REQUEST_LIMITS_KIND. Offer: empty. Answer: max_message u32 | max_blob u32 |
 *   max_action u32, the largest request message, blob and action string the server reads on this
 *   connection: its kind's `limits` (one whose credentials may yet make it a peer is named each
 *   the larger of both kinds', as kind 24 names the larger cap); then, where a client could send
 *   a unit over the connection's transport cap (a WebSocket's `maxWsMessageBytes`, TCP's
 *   `maxPendingFrameBytes`: FrameConn.maxFrameBytes), max_frame u32, the largest whole request
 *   frame (header, action, message and blob) it carries: over WebSocket wherever the cap is
 *   finite, as a client packs several frames into one message (up to its `maxBatchBytes`) which
 *   the cap bounds whole, even where every single frame the limits allow fits (told nothing, the
 *   client sent batches over it: 1009, the connection lost); over TCP only where a single frame
 *   the limits allow would not fit (wire/frame-cap-named.ts). A client from before max_frame
 *   reads the first three fields and ignores it (`readRequestLimits` always did), so the entry
 *   stays 12 bytes, as it was, wherever it is not named.
 */
export const REQUEST_LIMITS_KIND = HelloKind.RequestLimits;

/** The offer's entry: empty. */
export const REQUEST_LIMITS_OFFER: HelloEntry = { kind: REQUEST_LIMITS_KIND, value: EMPTY_BYTES };

const VALUE_LENGTH = 12;

/** With max_frame. */
const FRAME_VALUE_LENGTH = 16;

const U32_MAX = 0xffff_ffff;

/** The server's request limits as its answer names them. */
export interface RequestLimits extends Limits {
  /** The largest whole request frame (header included) the server's transport carries; left out when the answer names none. */
  readonly maxFrame?: number;
}

/** The bytes of the largest request frame `limits` allow: a string action's header, name, message and blob. */
export function largestRequestFrame(limits: Limits): number {
  return REQUEST_HEADER_LENGTH + limits.maxAction + limits.maxMessage + limits.maxBlob;
}

/**
 * The answer's entry: the limits the server reads requests by on this connection, each clamped
 * to what the wire carries (a u32 length; an action's length within its mask): a limit past that
 * limits nothing more, and written as it is it would wrap (2**32 read as 0, refusing every call).
 * `maxFrameBytes`: the connection's transport cap; `packs`: its transport packs frames into units
 * the cap bounds (its connections implement setPeerMaxFrameBytes).
 */
export function requestLimitsEntry(limits: Limits, maxFrameBytes?: number, packs = false): HelloEntry {
  const named = { maxMessage: Math.min(limits.maxMessage, U32_MAX), maxBlob: Math.min(limits.maxBlob, U32_MAX), maxAction: Math.min(limits.maxAction, ACTION_LEN_MASK) };
  // Where a client could send a unit over it: one frame the limits allow, or a batch where the transport packs them.
  const frame = frameCapToName(maxFrameBytes, largestRequestFrame(named), packs);
  const value = new Uint8Array(frame !== undefined ? FRAME_VALUE_LENGTH : VALUE_LENGTH);
  const view = new DataView(value.buffer);
  view.setUint32(0, named.maxMessage, true);
  view.setUint32(4, named.maxBlob, true);
  view.setUint32(8, named.maxAction, true);
  if (frame !== undefined) view.setUint32(12, Math.min(frame, U32_MAX), true);
  return { kind: REQUEST_LIMITS_KIND, value };
}

/** The answer's limits. Throws HelloError when short; max_frame when the value holds it; bytes past it are a later extension's, ignored. */
export function readRequestLimits(value: Uint8Array): RequestLimits {
  if (value.length < VALUE_LENGTH) throw new HelloError(`request limits of ${value.length} bytes, expected ${VALUE_LENGTH}`);
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const limits = { maxMessage: view.getUint32(0, true), maxBlob: view.getUint32(4, true), maxAction: view.getUint32(8, true) };
  return value.length < FRAME_VALUE_LENGTH ? limits : { ...limits, maxFrame: view.getUint32(12, true) };
}

/** Each of the two limits' larger: what a connection whose kind may still change is named. */
export function widerLimits(a: Limits, b: Limits): Limits {
  return { maxMessage: Math.max(a.maxMessage, b.maxMessage), maxBlob: Math.max(a.maxBlob, b.maxBlob), maxAction: Math.max(a.maxAction, b.maxAction) };
}
