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
 *   its `limits.maxReplyMetadata`; empty, DEFAULT_MAX_REPLY_METADATA; a value of 1 to 3 bytes,
 *   which servers from before the value took as empty, is read as empty). Answer: the server
 *   sends them; to an offer that named a bound, the u32 bound it holds handlers to (the offer's,
 *   within max_message), to an empty one empty, as before (a default hello stays byte-identical).
 *   A server from before the value answers every offer empty, and holds heads to 8 KiB: a client
 *   that named a bound and gets an empty answer reads such a server's heads (`replyMetadataRead`).
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

/**
 * A kind 27 value as a bound: undefined for an empty one, and for one of 1 to 3 bytes, too short
 * for a u32, which servers from before the value accepted as empty (failing the whole hello for
 * it would cost an older client every extension); else its u32 (bytes past it ignored, as past
 * any kind's fields).
 */
export function replyMetadataValue(value: Uint8Array): number | undefined {
  return value.length < 4 ? undefined : readU32Value(REPLY_METADATA_KIND, value);
}

/** The bound a client's offer names (`replyMetadataOffer`; DEFAULT_MAX_REPLY_METADATA for an empty value); undefined when it offered none. */
export function offeredReplyMetadata(hello: Hello): number | undefined {
  const value = findEntry(hello, REPLY_METADATA_KIND);
  if (value === undefined) return undefined;
  return replyMetadataValue(value) ?? DEFAULT_MAX_REPLY_METADATA;
}

/**
 * The answer's entry to a client's offer (undefined when it offered none): empty to an empty
 * offer, as it always was (a default hello's answer stays byte-identical, and older clients
 * ignore the value anyway); to one that named a bound, the u32 bound this server holds handlers
 * to, that value within the client's `maxMessage` (its reply limits), so that the client knows
 * its bound is kept and need not read as an older server's (`replyMetadataRead`).
 */
export function replyMetadataAnswer(hello: Hello, maxMessage: number): HelloEntry | undefined {
  const value = findEntry(hello, REPLY_METADATA_KIND);
  if (value === undefined) return undefined;
  const asked = replyMetadataValue(value);
  return asked === undefined ? REPLY_METADATA_ENTRY : u32Entry(REPLY_METADATA_KIND, replyMetadataBound(maxMessage, asked));
}

/** What a client reads of reply heads once the answer is in (ClientHello). */
export interface ReplyMetadataRead {
  /** The largest head it reads: one over it is a broken server's, which closes the connection. 0: none agreed. */
  readonly max: number;
  /** The largest it tells its callers (its own bound): a head over it, within `max`, is dropped, and `onReplyMetadata` told an empty record. */
  readonly told: number;
}

/**
 * What a client whose offer names `own` (its bound within its reply limits; 0 when it offered
 * none) reads, given the answer's kind 27 value (undefined: not in the answer). An answer with a
 * value is a server that holds handlers to `own`. An empty one to an offer that named less than
 * 8 KiB may be a server from before the value, which read the offer as empty and holds heads to
 * `older` (`min(8192, max_message)`): its heads are read up to that, and those over `own`
 * dropped, not told, rather than the connection closed under every call on it.
 */
export function replyMetadataRead(own: number, older: number, answer: Uint8Array | undefined): ReplyMetadataRead {
  if (answer === undefined || own === 0) return { max: 0, told: 0 };
  if (replyMetadataValue(answer) !== undefined) return { max: own, told: own };
  return { max: Math.max(own, older), told: own };
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
