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
export const MAX_BLOB_WIRE = 0x7fff_ffff;

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

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Reads a u64 seq. Skein's seqs stay below 2^53, where a number is exact. */
function readSeq(dv: DataView, at: number): number {
  return dv.getUint32(at + 4, true) * TWO_32 + dv.getUint32(at, true);
}

function writeSeq(dv: DataView, at: number, seq: number): void {
  dv.setUint32(at, seq >>> 0, true);
  dv.setUint32(at + 4, Math.floor(seq / TWO_32), true);
}

/** Writes a request header into `out` (32 bytes at offset 0). */
export function writeRequestHeader(
  out: Uint8Array,
  action: number | string,
  actionLength: number,
  seq: number,
  msgLength: number,
  blobLength: number,
): void {
  const dv = view(out);
  dv.setUint16(0, MAGIC, true);
  out[2] = VERSION;
  out[3] = 0;
  dv.setUint32(4, typeof action === 'number' ? action : (ACTION_STRING_BIT | actionLength) >>> 0, true);
  writeSeq(dv, 8, seq);
  dv.setUint32(16, 0, true);
  dv.setUint32(20, 0, true);
  dv.setUint32(24, msgLength, true);
  dv.setUint32(28, blobLength, true);
}

export function readRequestHeader(h: Uint8Array): RequestHeader {
  const dv = view(h);
  const raw = dv.getUint32(4, true);
  const isString = (raw & ACTION_STRING_BIT) !== 0;
  return {
    action: isString ? -1 : raw,
    actionLength: isString ? raw & ACTION_LEN_MASK : 0,
    seq: readSeq(dv, 8),
    msgLength: dv.getUint32(24, true),
    blobLength: dv.getUint32(28, true),
  };
}

/** Writes a response header into `out` (20 bytes at offset 0); `seqFrom` copies the request's seq bytes verbatim. */
export function writeResponseHeader(
  out: Uint8Array,
  flag: ResponseFlag,
  msgLength: number,
  seq: number | Uint8Array,
  blobLength: number,
): void {
  const dv = view(out);
  dv.setUint16(0, MAGIC, true);
  out[2] = VERSION;
  out[3] = flag;
  dv.setUint32(4, msgLength, true);
  if (typeof seq === 'number') writeSeq(dv, 8, seq);
  else out.set(seq, 8);
  dv.setInt32(16, blobLength, true);
}

export function readResponseHeader(h: Uint8Array): ResponseHeader {
  const dv = view(h);
  return { flag: h[3]!, msgLength: dv.getUint32(4, true), seq: readSeq(dv, 8), blobLength: dv.getInt32(16, true) };
}

/** Magic and version of any header, request or response. */
export function readPreamble(h: Uint8Array): { magic: number; version: number } {
  return { magic: h[0]! | (h[1]! << 8), version: h[2]! };
}

/** The request's seq bytes (offset 8, 8 bytes), echoed verbatim in the response. */
export function requestSeqBytes(h: Uint8Array): Uint8Array {
  return h.subarray(8, 16);
}
