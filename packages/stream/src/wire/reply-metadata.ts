import { EMPTY_BYTES } from '@skein/core';
import { HelloKind, findEntry, readU32Value, u32Entry, type Hello, type HelloEntry } from './hello.js';
import { DEFAULT_MAX_HEAD } from './call-head.js';
import { RESPONSE_HEADER_LENGTH, writeResponseHeaderHalves, type ResponseFlag } from './protocol.js';

/**
 * Reply metadata (docs/protocol.md, "Reply metadata"): small key/value entries a handler sends
 * back with its answer, as gRPC's and Connect's response headers and trailers. Nothing of it goes
 * to a client that did not offer it (a razor v1 client, an older Skein client would read the
 * frame as a broken answer): a server drops what a handler set for such a client.
 *
 * - hello kind REPLY_METADATA_KIND. Offer: the client reads reply heads of up to
 *   `replyMetadataBound` of its receive limits (kind 1) and of the bound the entry names (a u32:
 *   its `limits.maxReplyMetadata`; empty, DEFAULT_MAX_REPLY_METADATA). Answer: empty, the server
 *   sends them.
 * - A reply head (server → client) is a response frame with flag REPLY_METADATA_FLAG, the call's
 *   seq, `msg_len` bytes of msg and no blob: msg is a call head byte for byte (`remaining_ms u32 |
 *   entries`, wire/call-head.ts), `remaining_ms` NO_DEADLINE and ignored. Written just before the
 *   call's answer (ok or error, of the same seq; a stream's answer is its end, after its items),
 *   never on its own: the client keeps it for that answer.
 */
export const REPLY_METADATA_KIND = HelloKind.ReplyMetadata;

/** A response flag no other frame uses (server pings 0x19, reverse frames 0x18, 0x1A..0x1C, the goodbye 0x1D). */
export const REPLY_METADATA_FLAG = 0x1e;

/** The answer's entry, and the offer's of a client that reads the default bound. */
export const REPLY_METADATA_ENTRY: HelloEntry = { kind: REPLY_METADATA_KIND, value: EMPTY_BYTES };

/**
 * The bound a client reads unless it says otherwise (`limits.maxReplyMetadata`): the default
 * bound of a call head, 8 KiB. An offer without a value names it, as every offer did before the
 * value: a server from before it bounds reply heads so, whatever a client asks.
 */
export const DEFAULT_MAX_REPLY_METADATA = DEFAULT_MAX_HEAD;

/**
 * The offer of a client that reads reply heads of up to `max` (its `limits.maxReplyMetadata`):
 * empty for the default, so that the hello stays as it was; none for 0, a client that reads none.
 */
export function replyMetadataOffer(max: number): HelloEntry | undefined {
  if (max === 0) return undefined;
  return max === DEFAULT_MAX_REPLY_METADATA ? REPLY_METADATA_ENTRY : u32Entry(REPLY_METADATA_KIND, max);
}

/** The bound a client's offer names (`replyMetadataOffer`); undefined when it offered none. Throws HelloError for a value that is no u32. */
export function offeredReplyMetadata(hello: Hello): number | undefined {
  const value = findEntry(hello, REPLY_METADATA_KIND);
  if (value === undefined) return undefined;
  return value.length === 0 ? DEFAULT_MAX_REPLY_METADATA : readU32Value(REPLY_METADATA_KIND, value);
}

/**
 * The largest reply head, counted as a call head is (wire/head-size.ts: its bytes and 32 an entry),
 * that a client whose reply messages are at most `maxMessage` bytes reads: the bound its offer
 * names (`asked`, 8 KiB by default), within its reply limits (cut to its frame cap already, kind
 * 1's max_frame). Both sides compute it from kind 1 and kind 27's offer.
 */
export function replyMetadataBound(maxMessage: number, asked: number = DEFAULT_MAX_REPLY_METADATA): number {
  return Math.min(asked, maxMessage);
}

/** The whole reply head frame of the call whose seq halves are given: header and head in one buffer. */
export function replyMetadataFrame(seqLo: number, seqHi: number, head: Uint8Array): Uint8Array {
  const frame = new Uint8Array(RESPONSE_HEADER_LENGTH + head.length);
  // A flag of ours, past ResponseFlag's three (as the extension frames' are).
  writeResponseHeaderHalves(frame, REPLY_METADATA_FLAG as number as ResponseFlag, head.length, seqLo, seqHi, 0);
  frame.set(head, RESPONSE_HEADER_LENGTH);
  return frame;
}
