import { REQUEST_HEADER_LENGTH, RESPONSE_HEADER_LENGTH, putU32, writeRequestHeader, writeResponseHeader, ResponseFlag } from './protocol.js';

/**
 * The extension frames (docs/protocol.md, "Extension frames"): sent only on a connection whose
 * hello agreed the extension, so a razor v1 peer never sees one.
 *
 * Client to server they are v1 requests with a reserved numeric action and the seq of the call
 * or stream they belong to; server to client, v1 responses with a flag v1 does not use.
 */
export const CANCEL_ACTION = 0x7fff_ff01;
/** msg: a call head (wire/call-head.ts). The next request, of the same seq, is the call it heads. */
export const HEAD_ACTION = 0x7fff_ff02;
/** msg: a call head. The next request, of the same seq, opens a stream. */
export const OPEN_ACTION = 0x7fff_ff03;
/** msg and blob: one item the client sends on a stream. */
export const DATA_ACTION = 0x7fff_ff04;
/** The client sends no more items on the stream. */
export const END_ACTION = 0x7fff_ff05;
/** msg: u32, bytes of credit the client grants the server's side of the stream. */
export const CREDIT_ACTION = 0x7fff_ff06;
/** The last action the extension frames may use (0x7fff_ff07..0f are free for later ones). */
export const LAST_EXTENSION_ACTION = 0x7fff_ff0f;

/** Server to client: one item on a stream, `[msg][blob]` as an ok response. */
export const DATA_FLAG = 3;
/** Server to client: credit for the client's side of a stream; the bytes granted are in `msg_len`, no body. */
export const CREDIT_FLAG = 4;

/**
 * What an item costs in credit: its bytes and a header's worth, so that empty items are not
 * free and a flood of tiny ones is held back as well as a few large ones.
 */
export const ITEM_OVERHEAD = REQUEST_HEADER_LENGTH;

export function itemCost(msg: Uint8Array, blob: Uint8Array): number {
  return msg.length + blob.length + ITEM_OVERHEAD;
}

/** A client frame with no body (cancel, end). */
export function bareRequest(action: number, seq: number): Uint8Array {
  const frame = new Uint8Array(REQUEST_HEADER_LENGTH);
  writeRequestHeader(frame, action, 0, seq, 0, 0);
  return frame;
}

/** The client's credit frame: header and the u32 grant in one buffer. */
export function creditRequest(seq: number, bytes: number): Uint8Array {
  const frame = new Uint8Array(REQUEST_HEADER_LENGTH + 4);
  writeRequestHeader(frame, CREDIT_ACTION, 0, seq, 4, 0);
  putU32(frame, REQUEST_HEADER_LENGTH, bytes);
  return frame;
}

/** The server's credit frame, for the request whose seq bytes are given. */
export function creditResponse(seq: Uint8Array, bytes: number): Uint8Array {
  const frame = new Uint8Array(RESPONSE_HEADER_LENGTH);
  writeResponseHeader(frame, CREDIT_FLAG as ResponseFlag, bytes, seq, 0);
  return frame;
}
