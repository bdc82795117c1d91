/**
 * Razor v1 headers claiming the lengths given, written from the wire facts alone
 * (docs/razor-protocol.md in the developers' guide), never from Skein's code: what a hostile peer
 * sends to check that memory grows with the bytes received, never with the bytes a header
 * claims, and what razor-v1.ts's honest peer writes (its lengths those of what follows). Each is
 * the header only; what follows it (if anything) is the caller's to send.
 */

export const MAGIC = 0x4d25;
const VERSION = 1;
export const REQUEST_HEADER = 32;
export const RESPONSE_HEADER = 20;
export const STRING_ACTION = 0x8000_0000;

/** What a request header claims: a string action of `actionLength` bytes, or the numeric `action` given (its string length then 0). */
export interface ClaimedRequest {
  actionLength?: number;
  action?: number;
  msgLength: number;
  blobLength: number;
  seq?: number | bigint;
}

function head(length: number, fourth: number): { h: Uint8Array; v: DataView } {
  const h = new Uint8Array(length);
  const v = new DataView(h.buffer);
  v.setUint16(0, MAGIC, true);
  h[2] = VERSION;
  h[3] = fourth;
  return { h, v };
}

/** A 32-byte request header claiming the lengths given (seq 1 unless told). */
export function claimingRequest(c: ClaimedRequest): Uint8Array {
  const { h, v } = head(REQUEST_HEADER, 0);
  v.setUint32(4, c.action ?? (STRING_ACTION | (c.actionLength ?? 0)) >>> 0, true);
  v.setBigUint64(8, BigInt(c.seq ?? 1), true);
  v.setUint32(24, c.msgLength >>> 0, true);
  v.setUint32(28, c.blobLength >>> 0, true);
  return h;
}

/** A 20-byte response header of `flag` (any byte, Skein's extension flags too) claiming the lengths given, for seq `seq` (1 unless told). */
export function claimingResponse(flag: number, msgLength: number, blobLength: number, seq: number | bigint = 1): Uint8Array {
  const { h, v } = head(RESPONSE_HEADER, flag);
  v.setUint32(4, msgLength >>> 0, true);
  v.setBigUint64(8, BigInt(seq), true);
  v.setUint32(16, blobLength >>> 0, true);
  return h;
}
