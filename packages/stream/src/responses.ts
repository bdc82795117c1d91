import { CODE_INFO, builtinErrorBytes, escapeCustomBytes, type ErrorCode, type ErrorPayload } from '@skein/core';
import { RESPONSE_HEADER_LENGTH, ResponseFlag, writeResponseHeader } from './protocol.js';

const builtinStrings = new Map<ErrorCode, Uint8Array>();

function builtinBytes(code: ErrorCode, detail?: string): Uint8Array {
  if (detail) return builtinErrorBytes(CODE_INFO[code].wire, detail);
  let b = builtinStrings.get(code);
  if (!b) builtinStrings.set(code, (b = builtinErrorBytes(CODE_INFO[code].wire)));
  return b;
}

/**
 * A whole flag-2 response carrying a built-in error's reserved string, with an optional detail
 * after a colon (a razor-rpc peer reads a detailed string as a custom error: send details for
 * razor's own codes only when the peers are Skein).
 */
export function errorResponse(seq: Uint8Array | number, code: ErrorCode, detail?: string): Uint8Array {
  const s = builtinBytes(code, detail);
  const out = new Uint8Array(RESPONSE_HEADER_LENGTH + s.length);
  writeResponseHeader(out, ResponseFlag.ErrorString, 0, seq, s.length);
  out.set(s, RESPONSE_HEADER_LENGTH);
  return out;
}

/** A whole response for a method's custom error: flag 1 for a number, flag 2 (escaped) for bytes. */
export function customErrorResponse(seq: Uint8Array | number, payload: ErrorPayload): Uint8Array {
  if (typeof payload === 'number') {
    const out = new Uint8Array(RESPONSE_HEADER_LENGTH);
    writeResponseHeader(out, ResponseFlag.ErrorNumber, payload >>> 0, seq, 0);
    return out;
  }
  const s = escapeCustomBytes(payload);
  const out = new Uint8Array(RESPONSE_HEADER_LENGTH + s.length);
  writeResponseHeader(out, ResponseFlag.ErrorString, 0, seq, s.length);
  out.set(s, RESPONSE_HEADER_LENGTH);
  return out;
}
