import { CODE_INFO, ErrorCode, type ErrorPayload } from '@skein/core';
import { builtinErrorBytes, escapeCustomBytes } from './error-strings.js';
import { streamRoomDetail, type StreamRoomCap } from './stream-room.js';
import { RESPONSE_HEADER_LENGTH, ResponseFlag, u32, writeResponseHeaderHalves } from './protocol.js';

const TWO_32 = 2 ** 32;
const builtinStrings = new Map<ErrorCode, Uint8Array>();

function builtinBytes(code: ErrorCode, detail?: string): Uint8Array {
  if (detail) return builtinErrorBytes(CODE_INFO[code].wire, detail);
  let b = builtinStrings.get(code);
  if (!b) builtinStrings.set(code, (b = builtinErrorBytes(CODE_INFO[code].wire)));
  return b;
}

/** The low u32 of a seq given as a number or as its 8 bytes. */
const seqLoOf = (seq: Uint8Array | number): number => (typeof seq === 'number' ? seq >>> 0 : u32(seq, 0));
/** The high u32 of a seq given as a number or as its 8 bytes. */
const seqHiOf = (seq: Uint8Array | number): number => (typeof seq === 'number' ? Math.floor(seq / TWO_32) : u32(seq, 4));

/**
 * A whole flag-2 response carrying a built-in error's reserved string, with an optional detail
 * after a colon (a razor-rpc peer reads a detailed string as a custom error: send details for
 * razor's own codes only when the peers are Skein).
 */
export function errorResponse(seq: Uint8Array | number, code: ErrorCode, detail?: string): Uint8Array {
  return errorResponseHalves(seqLoOf(seq), seqHiOf(seq), code, detail);
}

/** A whole response for a method's custom error: flag 1 for a number, flag 2 (escaped) for bytes. */
export function customErrorResponse(seq: Uint8Array | number, payload: ErrorPayload): Uint8Array {
  return customErrorResponseHalves(seqLoOf(seq), seqHiOf(seq), payload);
}

/** @internal `errorResponse` for a seq given as the request's two u32 halves (copied verbatim). */
export function errorResponseHalves(seqLo: number, seqHi: number, code: ErrorCode, detail?: string): Uint8Array {
  return errorStringHalves(seqLo, seqHi, builtinBytes(code, detail));
}

/** @internal `customErrorResponse` for a seq given as the request's two u32 halves (copied verbatim). */
export function customErrorResponseHalves(seqLo: number, seqHi: number, payload: ErrorPayload): Uint8Array {
  if (typeof payload === 'number') {
    const out = new Uint8Array(RESPONSE_HEADER_LENGTH);
    writeResponseHeaderHalves(out, ResponseFlag.ErrorNumber, payload >>> 0, seqLo, seqHi, 0);
    return out;
  }
  return errorStringHalves(seqLo, seqHi, escapeCustomBytes(payload));
}

/** A response of flag 3 (an error string) carrying `s`. */
function errorStringHalves(seqLo: number, seqHi: number, s: Uint8Array): Uint8Array {
  const out = new Uint8Array(RESPONSE_HEADER_LENGTH + s.length);
  writeResponseHeaderHalves(out, ResponseFlag.ErrorString, 0, seqLo, seqHi, s.length);
  out.set(s, RESPONSE_HEADER_LENGTH);
  return out;
}

/** The two refusals' wire strings, made once: outside builtinErrorBytes, which marks such words as passed on. */
const ROOM_STRINGS: Readonly<Record<StreamRoomCap, Uint8Array>> = {
  'stream budget': roomString('stream budget'),
  'open streams': roomString('open streams'),
};

function roomString(cap: StreamRoomCap): Uint8Array {
  return new TextEncoder().encode(`${CODE_INFO[ErrorCode.Overloaded].wire}:${streamRoomDetail(cap)}`);
}

/**
 * @internal The server's own refusal of a stream for room on its connection (Overloaded with
 * `streamRoomDetail(cap)`): the one answer that carries the sign, written past `builtinErrorBytes`,
 * which marks every other detail that says so as passed on.
 */
export function roomRefusalResponseHalves(seqLo: number, seqHi: number, cap: StreamRoomCap): Uint8Array {
  return errorStringHalves(seqLo, seqHi, ROOM_STRINGS[cap]);
}
