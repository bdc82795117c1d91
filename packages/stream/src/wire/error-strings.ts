import { CODE_INFO, ErrorCode, RpcError, codeFromWire, type RetryPolicy } from '@skein/core';
import { unsignedDetail } from './stream-room.js';

// razor-rpc's error strings: how a built-in error and a method's custom error bytes share the
// flag-2 response body without being mistaken for each other.

const PREFIX = [0x72, 0x70, 0x63, 0x5f]; // "rpc_"
const ESCAPE = 0x00;
// `ignoreBOM`: a detail that begins with U+FEFF reads as it was sent. A default decoder drops it,
// and a detail cut to that one character would then read as none: a bare `rpc_overloaded` says
// "refused unrun" (see `fittedDetail`).
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

function startsWithPrefix(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === PREFIX[0] && b[1] === PREFIX[1] && b[2] === PREFIX[2] && b[3] === PREFIX[3];
}

/**
 * Bytes to put on the wire for a custom error string. A user payload that starts with `rpc_`
 * (or with the escape byte) is prefixed with one 0x00 byte so that no peer, Skein or razor-rpc,
 * can read it as a built-in error.
 */
export function escapeCustomBytes(bytes: Uint8Array): Uint8Array {
  if (!startsWithPrefix(bytes) && bytes[0] !== ESCAPE) return bytes;
  const out = new Uint8Array(bytes.length + 1);
  out[0] = ESCAPE;
  out.set(bytes, 1);
  return out;
}

const COLON = 0x3a;
const MAX_DETAIL = 1024;
/** The longest reserved name a reader takes as a built-in error (see `readErrorBytes`). */
const MAX_WIRE_NAME = 32;

/**
 * The most bytes a built-in error string takes on the wire: its name, a colon and a detail of at
 * most MAX_DETAIL UTF-16 units (at most 3 UTF-8 bytes each). A client reads error strings up to
 * this whatever its own limits, so that one configured far below them (and so sending no hello,
 * which would tell the server its limits) still reads an error's code: memory for it is this
 * constant, never what a header claims.
 */
export const BUILTIN_ERROR_ROOM = MAX_WIRE_NAME + 1 + 3 * MAX_DETAIL;

/**
 * Reads a flag-2 error string: a built-in RpcError, or the custom payload (unescaped). A built-in
 * string may carry a detail after a colon (`rpc_invalid_argument:add: a: expected number`),
 * which becomes the error's message; Skein sends details only for its own codes unless told to.
 * The error's `retry` is what this hop allows (see `retryFromWire`), not its code's default.
 */
export function readErrorBytes(bytes: Uint8Array): RpcError | Uint8Array {
  if (bytes[0] === ESCAPE) return bytes.subarray(1);
  if (!startsWithPrefix(bytes)) return bytes;
  const colon = bytes.indexOf(COLON);
  const name = bytes.subarray(0, colon < 0 ? bytes.length : colon);
  const code = name.length <= MAX_WIRE_NAME ? codeFromWire(utf8.decode(name)) : undefined;
  if (code === undefined) return bytes;
  const detail = colon < 0 ? undefined : utf8.decode(bytes.subarray(colon + 1));
  // A stream's refusal for room is read as unrun by its stream's opening alone (`roomRefusal`):
  // here, for any answer, a detailed Overloaded may have run.
  return new RpcError(code, detail, { retry: retryFromWire(code, colon >= 0) });
}

/**
 * How far a built-in error that came back from the peer lets the caller retry. Only the peer's
 * own refusal before dispatch can be `safe`, and it is always sent bare (`rpc_overloaded`,
 * `rpc_closed`), but for a stream refused for room, whose detail says so (`STREAM_ROOM`), read as
 * such by the stream's opening alone (`roomRefusal`), never here. A handler's error with such a code travels with a detail naming the action (the
 * dispatch layers see to it), so a detailed one reads as "may have run": the handler may have
 * done its work before a downstream call failed. An `rpc_unreachable` is never safe: the peer
 * was reached, so it speaks of some other hop. Fail-closed: an unknown sender's detail counts too.
 */
export function retryFromWire(code: ErrorCode, detailed: boolean): RetryPolicy {
  const retry = CODE_INFO[code].retry;
  if (retry !== 'safe') return retry;
  return detailed || code === ErrorCode.Unreachable ? 'idempotent' : 'safe';
}

/**
 * The wire string of a built-in error, with an optional detail (truncated to 1 KiB). Every detail
 * that reaches the wire comes here (a handler's, a worker's, a reverse call's answer's): one that
 * speaks of no stream room is marked as passed on (`unsignedDetail`), as the server's own refusal
 * for room alone may say so (`roomRefusalResponseHalves`).
 */
export function builtinErrorBytes(wire: string, detail?: string): Uint8Array {
  if (!detail) return encoder.encode(wire);
  const u = unsignedDetail(detail);
  const d = u.length > MAX_DETAIL ? u.slice(0, MAX_DETAIL) : u;
  return encoder.encode(`${wire}:${d}`);
}

/**
 * `detail` cut so that `wire:detail` takes at most `max` bytes, at a character's end (at least
 * one character of it stays). For an answer over the peer's limits: a detail is cut, never
 * dropped, for a bare `rpc_overloaded` or `rpc_closed` reads as "refused unrun" (see
 * `retryFromWire`), which a handler's error must never say. Only errors over the limit come here.
 */
export function fittedDetail(wire: string, detail: string, max: number): string {
  const bytes = encoder.encode(detail);
  let end = max - wire.length - 1;
  if (bytes.length <= end) return detail;
  // Back to the start of the UTF-8 sequence the cut falls in (continuation bytes are 10xxxxxx).
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return end > 0 ? utf8.decode(bytes.subarray(0, end)) : String.fromCodePoint(detail.codePointAt(0)!);
}

const encoder = new TextEncoder();
