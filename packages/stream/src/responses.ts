import { CODE_INFO, escapeCustomBytes, type ErrorCode, type ErrorPayload } from '@skein/core';
import { RESPONSE_HEADER_LENGTH, ResponseFlag, writeResponseHeader } from './protocol.js';

const ascii = new TextEncoder();
const builtinStrings = new Map<ErrorCode, Uint8Array>();

function builtinBytes(code: ErrorCode): Uint8Array {
  let b = builtinStrings.get(code);
  if (!b) builtinStrings.set(code, (b = ascii.encode(CODE_INFO[code].wire)));
  return b;
}

/** A whole flag-2 response carrying a built-in error's reserved string. */
export function errorResponse(seq: Uint8Array | number, code: ErrorCode): Uint8Array {
  const s = builtinBytes(code);
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
