import {
  HELLO_VERSION,
  HelloKind,
  HelloRole,
  decodeHello,
  encodeHello,
  findEntry,
  readReceiveLimits,
  readU32Value,
  receiveLimitsEntry,
  u32Entry,
  type HelloEntry,
  type Hello,
} from '../wire/hello.js';
import { replyLimits, type ReplyLimits } from '../wire/limits.js';
import { DEFAULT_MAX_HEAD } from '../wire/call-head.js';
import { DEFAULT_STREAM_WINDOW, type Agreed } from '../wire/agreed.js';
import { SERVER_PINGS_ENTRY, SERVER_PINGS_KIND } from '../wire/server-pings.js';
import { IN_FLIGHT_CAP_KIND } from '../wire/in-flight-cap.js';
import { GOODBYE_KIND } from '../wire/goodbye.js';
import { REQUEST_LIMITS_KIND } from '../wire/request-limits.js';
import { offeredReplyMetadata, replyMetadataAnswer } from '../wire/reply-metadata.js';

/** What the server makes of a client's hello. */
export interface HelloOutcome {
  /** The limits to check this connection's replies against, when the client told them. */
  readonly peerLimits: ReplyLimits | undefined;
  /** The extensions agreed, if any. */
  readonly agreed: Agreed | undefined;
  /** The answer's msg: the part of the offer the server accepts. */
  readonly answer: Uint8Array;
  /** The client answers server pings (it offered them): only then may the server send one. */
  readonly pings: boolean;
  /** The client keeps its window within the server's cap (it offered kind 24): the answer names the cap (conn-hello.ts, which knows the connection's kind). */
  readonly readsCap: boolean;
  /** The client reads a goodbye (it offered kind 25): only then may a draining connection end with one. */
  readonly goodbye: boolean;
  /** The client refuses requests over the server's limits (it offered kind 26): the answer names them (conn-hello.ts, which knows the connection's kind). */
  readonly readsLimits: boolean;
  /** The client reads reply metadata (it offered kind 27): the answer accepts it (conn-hello.ts), and only then does a handler's reach it. */
  readonly replyMetadata: boolean;
  /** With `replyMetadata`: the bound its offer names (its `limits.maxReplyMetadata`; 8 KiB for an empty offer), else 0. */
  readonly replyMetadataMax: number;
  /** With `replyMetadata`: the answer's entry (conn-hello.ts), empty to an empty offer, else the bound the server holds handlers to (wire/reply-metadata.ts). */
  readonly replyMetadataEntry: HelloEntry | undefined;
}

/** What the server offers to accept. */
export interface ServerExtensions {
  readonly maxHead: number;
  readonly streamWindowBytes: number;
}

export const DEFAULT_SERVER_EXTENSIONS: ServerExtensions = { maxHead: DEFAULT_MAX_HEAD, streamWindowBytes: DEFAULT_STREAM_WINDOW };

/** Accepts nothing: an offer of a version we cannot read, or of nothing we speak. */
const NOTHING: HelloOutcome = { peerLimits: undefined, agreed: undefined, answer: encodeHello(HelloRole.Answer, []), pings: false, readsCap: false, goodbye: false, readsLimits: false, replyMetadata: false, replyMetadataMax: 0, replyMetadataEntry: undefined };

/**
 * Answers the hello msg at `b[from, to)`. Throws HelloError when it does not parse; the caller
 * answers that with Decode, and the connection stays plain v1. `settled`: the extensions an
 * earlier hello on the connection agreed, which it keeps; the answer to a later one names them,
 * not what the new offer would have agreed.
 */
export function answerHello(b: Uint8Array, from: number, to: number, ours: ServerExtensions = DEFAULT_SERVER_EXTENSIONS, settled?: Agreed): HelloOutcome {
  const hello = decodeHello(b, from, to);
  if (hello.version !== HELLO_VERSION || hello.role !== HelloRole.Offer) return NOTHING;
  const value = findEntry(hello, HelloKind.ReceiveLimits);
  if (value === undefined) return NOTHING;
  const asked = readReceiveLimits(value);
  // With the largest reply frame the client's transport carries, when it names one (max_frame).
  const peerLimits = replyLimits(asked.maxMessage, asked.maxBlob, asked.maxFrame);
  // The answer repeats the limits as the server applies them (capped at the wire's ceilings and the client's frame).
  const entries: HelloEntry[] = [receiveLimitsEntry(peerLimits.maxMessage, peerLimits.maxBlob)];
  const agreed = settled ?? agree(hello, ours);
  if (agreed) answerEntries(agreed, entries);
  // Whatever the kind's keepaliveMs: a connection may become a peer, of other limits, after its hello.
  const pings = findEntry(hello, SERVER_PINGS_KIND) !== undefined;
  if (pings) entries.push(SERVER_PINGS_ENTRY);
  const readsCap = findEntry(hello, IN_FLIGHT_CAP_KIND) !== undefined;
  // Its entry, and kind 26's, go after the cap's (conn-hello.ts): the answer's kinds in ascending order.
  const goodbye = findEntry(hello, GOODBYE_KIND) !== undefined;
  const readsLimits = findEntry(hello, REQUEST_LIMITS_KIND) !== undefined;
  const replyMetadataMax = offeredReplyMetadata(hello);
  const replyMetadata = replyMetadataMax !== undefined;
  const replyMetadataEntry = replyMetadataAnswer(hello, peerLimits.maxMessage);
  return { peerLimits, agreed, answer: encodeHello(HelloRole.Answer, entries), pings, readsCap, goodbye, readsLimits, replyMetadata, replyMetadataMax: replyMetadataMax ?? 0, replyMetadataEntry };
}

/** Accepts each extension the client offered. */
function agree(hello: Hello, ours: ServerExtensions): Agreed | undefined {
  const cancel = findEntry(hello, HelloKind.Cancel) !== undefined;
  const maxHead = findEntry(hello, HelloKind.CallHead) !== undefined ? ours.maxHead : 0;
  const window = findEntry(hello, HelloKind.Streams);
  // Streams end and are stopped with cancel frames: no streams without them.
  const toClient = window === undefined ? 0 : readU32Value(HelloKind.Streams, window);
  // A window of 0 could never be opened (credit is granted for what was read): not agreed.
  const streams = toClient > 0 && cancel ? { toServer: ours.streamWindowBytes, toClient } : undefined;
  if (!cancel && maxHead === 0 && !streams) return undefined;
  return { cancel, maxHead, streams };
}

/** The answer's entry of each extension `agreed` holds, added to `entries`. */
function answerEntries(agreed: Agreed, entries: HelloEntry[]): void {
  if (agreed.cancel) entries.push(u32Entry(HelloKind.Cancel));
  if (agreed.maxHead > 0) entries.push(u32Entry(HelloKind.CallHead, agreed.maxHead));
  if (agreed.streams) entries.push(u32Entry(HelloKind.Streams, agreed.streams.toServer));
}
