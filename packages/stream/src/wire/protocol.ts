/**
 * razor-rpc v1 framing (docs/protocol.md). All integers little-endian.
 *
 * Request header, 32 bytes: magic u16 | ver u8 | format u8 | action u32 | seq u64 |
 *   client_id u64 | msg_len u32 | blob_len u32, then [action string][msg][blob].
 * Response header, 20 bytes: magic u16 | ver u8 | flag u8 | msg_len u32 | seq u64 | blob_len i32,
 *   then [msg][blob] (flag 0), nothing (flag 1: msg_len is the error number) or the error string
 *   (flag 2: blob_len bytes).
 */
export const MAGIC = 0x4d25;
export const VERSION = 1;
export const REQUEST_HEADER_LENGTH = 32;
export const RESPONSE_HEADER_LENGTH = 20;

/** Bit 31 of the action field: a string action of (action & ACTION_LEN_MASK) bytes follows. */
export const ACTION_STRING_BIT = 0x8000_0000;
export const ACTION_LEN_MASK = 0x7fff_ffff;
/** Numeric action 0 is a ping. */
export const PING_ACTION = 0;
/**
 * The hello: the extension negotiation a Skein client sends first (wire/hello.ts). The numeric
 * actions from here up are reserved for the protocol's own use.
 */
export const HELLO_ACTION = 0x7fff_ff00;
export const MAX_BLOB_WIRE = 0x7fff_ffff;
export const MAX_MESSAGE_WIRE = 0xffff_ffff;

export const enum ResponseFlag {
  Ok = 0,
  ErrorNumber = 1,
  ErrorString = 2,
}

const TWO_32 = 0x1_0000_0000;

export interface RequestHeader {
  /** Numeric action, or -1 when a string action follows. */
  action: number;
  /** Byte length of the action string (0 for a numeric action). */
  actionLength: number;
  seq: number;
  msgLength: number;
  blobLength: number;
}

export interface ResponseHeader {
  flag: number;
  /** The error number when flag = 1. */
  msgLength: number;
  seq: number;
  blobLength: number;
}

/** Where the fields the hot paths read sit in a header (see the layout above). */
export const REQ_ACTION_AT = 4;
export const REQ_MSG_LEN_AT = 24;
export const REQ_BLOB_LEN_AT = 28;
export const RES_FLAG_AT = 3;
export const RES_MSG_LEN_AT = 4;
export const RES_BLOB_LEN_AT = 16;
/** The seq, a u64, at the same offset in requests and responses. */
export const SEQ_AT = 8;

// Plain byte stores instead of a DataView: no object per header on the hot path.
export function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

export function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

/** Reads a u64 seq. Skein's seqs stay below 2^53, where a number is exact. */
export function readSeq(b: Uint8Array, at: number): number {
  return u32(b, at + 4) * TWO_32 + u32(b, at);
}

function writeSeq(b: Uint8Array, at: number, seq: number): void {
  putU32(b, at, seq >>> 0);
  putU32(b, at + 4, Math.floor(seq / TWO_32));
}

/** Writes a request header into `out` (32 bytes at offset 0); `action` '' means a string action of `actionLength` bytes. */
export function writeRequestHeader(
  out: Uint8Array,
  action: number | string,
  actionLength: number,
  seq: number,
  msgLength: number,
  blobLength: number,
): void {
  out[0] = MAGIC & 0xff;
  out[1] = MAGIC >>> 8;
  out[2] = VERSION;
  out[3] = 0;
  putU32(out, 4, typeof action === 'number' ? action : (ACTION_STRING_BIT | actionLength) >>> 0);
  writeSeq(out, 8, seq);
  putU32(out, 16, 0);
  putU32(out, 20, 0);
  putU32(out, 24, msgLength);
  putU32(out, 28, blobLength);
}

export function readRequestHeader(h: Uint8Array): RequestHeader {
  const raw = u32(h, 4);
  const isString = (raw & ACTION_STRING_BIT) !== 0;
  return {
    action: isString ? -1 : raw,
    actionLength: isString ? raw & ACTION_LEN_MASK : 0,
    seq: readSeq(h, 8),
    msgLength: u32(h, 24),
    blobLength: u32(h, 28),
  };
}

/** Writes a response header into `out` (20 bytes at offset 0); a Uint8Array `seq` is the request's seq bytes, copied verbatim. */
export function writeResponseHeader(
  out: Uint8Array,
  flag: ResponseFlag,
  msgLength: number,
  seq: number | Uint8Array,
  blobLength: number,
): void {
  if (typeof seq === 'number') writeResponseHeaderHalves(out, flag, msgLength, seq >>> 0, Math.floor(seq / TWO_32), blobLength);
  else writeResponseHeaderHalves(out, flag, msgLength, u32(seq, 0), u32(seq, 4), blobLength);
}

/**
 * A response header whose seq is given as the request's two u32 halves, as read from its
 * header: copied verbatim, whatever the peer's seq (even past 2^53), with no view per request.
 */
export function writeResponseHeaderHalves(
  out: Uint8Array,
  flag: ResponseFlag,
  msgLength: number,
  seqLo: number,
  seqHi: number,
  blobLength: number,
): void {
  out[0] = MAGIC & 0xff;
  out[1] = MAGIC >>> 8;
  out[2] = VERSION;
  out[3] = flag;
  putU32(out, 4, msgLength);
  putU32(out, SEQ_AT, seqLo);
  putU32(out, SEQ_AT + 4, seqHi);
  putU32(out, 16, blobLength | 0);
}

/** The 8 seq bytes of the request whose seq halves are given. */
export function seqBytesOf(seqLo: number, seqHi: number): Uint8Array {
  const b = new Uint8Array(8);
  putU32(b, 0, seqLo);
  putU32(b, 4, seqHi);
  return b;
}

export function readResponseHeader(h: Uint8Array): ResponseHeader {
  return { flag: h[3]!, msgLength: u32(h, 4), seq: readSeq(h, 8), blobLength: u32(h, 16) | 0 };
}

// razor's error strings travel in flag-2 bodies; raw peers and tests read and write them too.
export { builtinErrorBytes, escapeCustomBytes, readErrorBytes } from './error-strings.js';
