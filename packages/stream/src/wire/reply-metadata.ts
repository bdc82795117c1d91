import { EMPTY_BYTES } from '@skein/core';
import { HelloKind, type HelloEntry } from './hello.js';
import { DEFAULT_MAX_HEAD } from './call-head.js';
import { RESPONSE_HEADER_LENGTH, writeResponseHeaderHalves, type ResponseFlag } from './protocol.js';

/**
 * Reply metadata (docs/protocol.md, "Reply metadata"): small key/value entries a handler sends
 * back with its answer, as gRPC's and Connect's response headers and trailers. Nothing of it goes
 * to a client that did not offer it (a razor v1 client, an older Skein client would read the
 * frame as a broken answer): a server drops what a handler set for such a client.
 *
 * - hello kind REPLY_METADATA_KIND, empty both ways. Offer: the client reads reply heads of up
 *   to `replyMetadataBound` of its receive limits (kind 1). Answer: the server sends them.
 * - A reply head (server → client) is a response frame with flag REPLY_METADATA_FLAG, the call's
 *   seq, `msg_len` bytes of msg and no blob: msg is a call head byte for byte (`remaining_ms u32 |
 *   entries`, wire/call-head.ts), `remaining_ms` NO_DEADLINE and ignored. Written just before the
 *   call's answer (ok or error, of the same seq; a stream's answer is its end, after its items),
 *   never on its own: the client keeps it for that answer.
 */
export const REPLY_METADATA_KIND = HelloKind.ReplyMetadata;

/** A response flag no other frame uses (server pings 0x19, reverse frames 0x18, 0x1A..0x1C, the goodbye 0x1D). */
export const REPLY_METADATA_FLAG = 0x1e;

/** The entry, offer and answer alike. */
export const REPLY_METADATA_ENTRY: HelloEntry = { kind: REPLY_METADATA_KIND, value: EMPTY_BYTES };

/**
 * The largest reply head, counted as a call head is (wire/head-size.ts: its bytes and 32 an entry),
 * that a client whose reply messages are at most `maxMessage` bytes reads: the default bound of a
 * call head (8 KiB), within its reply limits (cut to its frame cap already, kind 1's max_frame).
 * Both sides compute it from kind 1, so that the offer needs no value of its own.
 */
export function replyMetadataBound(maxMessage: number): number {
  return Math.min(DEFAULT_MAX_HEAD, maxMessage);
}

/** The whole reply head frame of the call whose seq halves are given: header and head in one buffer. */
export function replyMetadataFrame(seqLo: number, seqHi: number, head: Uint8Array): Uint8Array {
  const frame = new Uint8Array(RESPONSE_HEADER_LENGTH + head.length);
  // A flag of ours, past ResponseFlag's three (as the extension frames' are).
  writeResponseHeaderHalves(frame, REPLY_METADATA_FLAG as number as ResponseFlag, head.length, seqLo, seqHi, 0);
  frame.set(head, RESPONSE_HEADER_LENGTH);
  return frame;
}
