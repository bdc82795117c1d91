import { HELLO_SEQ, HELLO_VERSION, HelloError, HelloKind, HelloRole, decodeHello, encodeHello, findEntry, readU32Value, receiveLimitsEntry, u32Entry, type Hello, type HelloEntry } from '../wire/hello.js';
import { ErrorCode, RpcError } from '@skein/core';
import type { Limits } from '../wire/limits.js';
import { readErrorBytes } from '../wire/error-strings.js';
import type { Agreed } from '../wire/agreed.js';
import { AUTH_ENTRY } from '../wire/auth.js';
import { SERVER_PINGS_ENTRY } from '../wire/server-pings.js';
import { IN_FLIGHT_CAP_KIND, IN_FLIGHT_CAP_OFFER, readInFlightCap } from '../wire/in-flight-cap.js';
import { GOODBYE_ENTRY } from '../wire/goodbye.js';
import { frameCapWords } from '../wire/frame-cap-words.js';
import { REQUEST_LIMITS_KIND, REQUEST_LIMITS_OFFER, readRequestLimits, type RequestLimits } from '../wire/request-limits.js';
import { describeHeadOver, headOver } from '../wire/head-size.js';
import { frameCapToName } from '../wire/frame-cap-named.js';
import { DEFAULT_MAX_REPLY_METADATA, REPLY_METADATA_KIND, replyMetadataBound, replyMetadataOffer, replyMetadataRead } from '../wire/reply-metadata.js';
import {
  HELLO_ACTION,
  REQUEST_HEADER_LENGTH,
  RES_FLAG_AT,
  RES_MSG_LEN_AT,
  RESPONSE_HEADER_LENGTH,
  ResponseFlag,
  u32,
  writeRequestHeader,
} from '../wire/protocol.js';

/**
 * Below this, the client's limits leave no room for every answer a peer may give the hello
 * (ours, or a v1 peer's error string with a detail): a hello would then risk the connection it
 * is meant to protect, so none is sent.
 */
const ANSWER_ROOM = 1024;

/** True when a client with these limits sends a hello (and so can offer extensions, auth among them). */
export function sendsHello(limits: Limits): boolean {
  return limits.maxMessage >= ANSWER_ROOM && limits.maxBlob >= ANSWER_ROOM;
}

/**
 * What the peer speaks beyond razor v1: `pending` until the hello's answer arrives, `v1` when it
 * was an error (a razor-rpc or older Skein server) or no answer of ours, `agreed` with the kinds
 * the server accepted. Only an `agreed` peer may ever be sent an extension frame.
 */
export type PeerDialect = 'pending' | 'v1' | 'agreed';

/**
 * The client's half of the hello (docs/protocol.md, "Extensions"). The request goes out first on
 * a new connection, with seq 0, and the first call follows at once: no round trip is spent,
 * because the server reads requests in order and takes the hello before any call after it.
 */
export class ClientHello {
  dialect: PeerDialect;
  /** The entry kinds the server accepted (once `agreed`). */
  accepted: readonly number[] = [];
  /** The answer's entries, once `agreed`. */
  answerEntries: readonly HelloEntry[] = [];
  /** The extensions agreed, once the answer says so; undefined for a v1 peer. */
  agreed: Agreed | undefined = undefined;
  /** The whole request frame (header and msg), or undefined when none is sent. */
  readonly request: Uint8Array | undefined;
  /** The server authenticates: the client is to present its credentials (it offered auth). */
  authAsked = false;
  /**
   * The calls the server handles at once on this connection (its answer's kind 24), once
   * `agreed`; undefined from a server that does not say (an older Skein server): the client's
   * window must stay within it, or the server stops reading behind slow calls (wire/in-flight-cap.ts).
   */
  maxInFlight: number | undefined = undefined;
  /**
   * The largest request the server reads on this connection (its answer's kind 26), once
   * `agreed`; undefined from a server that does not say (an older Skein server, razor v1): a
   * request over them is refused at its header and the connection closed (wire/request-limits.ts).
   */
  serverLimits: RequestLimits | undefined = undefined;
  /**
   * The server answered the hello with a refusal of the connection (one of Skein's own codes,
   * 100 and up, which no razor v1 peer sends: `rpc_overloaded:<why>` to a connection past the
   * clients' cap that is no peer), which it ends: why, for the stream to close with.
   */
  refusal: RpcError | undefined = undefined;
  /**
   * The largest reply head (wire/reply-metadata.ts) the server may send, counted as a call head
   * is, once its answer agreed reply metadata (kind 27); 0 before, and from a server that did not.
   */
  replyMetadataMax = 0;
  /**
   * The largest reply head told to callers: the bound the offer names. Below `replyMetadataMax`
   * only from a server whose answer may be an older one's (empty to an offer that named a bound):
   * a head between the two is dropped (wire/reply-metadata.ts, `replyMetadataRead`).
   */
  replyMetadataTold = 0;
  /** A head over `replyMetadataTold` was dropped and logged on this connection (client/reply-metadata-read.ts): said once. */
  replyMetadataDropSaid = false;
  /** What `replyMetadataTold` becomes if the answer agrees: the bound the offer names (`limits.maxReplyMetadata`), within its receive limits. */
  private readonly replyMetadataOffered: number = 0;
  /** The bound a server from before kind 27's value holds heads to, whatever was offered: 8 KiB within the receive limits. */
  private readonly replyMetadataOlder: number = 0;
  /** Told once when the dialect is known. */
  private waiters: (() => void)[] = [];

  constructor(
    /** With the reply head bound it reads (`limits.maxReplyMetadata`, default 8 KiB; 0: none, not offered). */
    limits: Limits & { readonly maxReplyMetadata?: number },
    /** This client's receive window per stream. */
    private readonly streamWindowBytes: number,
    /** The client has credentials to present, once the answer asks for them (docs/auth.md). */
    offerAuth = false,
    /** More entries to offer (calls both ways: wire/reverse-calls.ts). */
    extra: readonly HelloEntry[] = [],
    /** The largest frame this connection's transport carries (FrameConn.maxFrameBytes): the server's replies are held within it. */
    maxFrameBytes?: number,
    /** Its transport packs frames into units the cap bounds (a WebSocket message; its connections implement setPeerMaxFrameBytes). */
    packs = false,
  ) {
    if (!sendsHello(limits)) {
      this.dialect = 'v1';
      this.request = undefined;
      return;
    }
    this.dialect = 'pending';
    const offered = receiveLimits(limits, replyFrameBound(limits, maxFrameBytes, packs));
    const readsMetadata = limits.maxReplyMetadata ?? DEFAULT_MAX_REPLY_METADATA;
    this.replyMetadataOffered = replyMetadataBound(offered[0], readsMetadata);
    this.replyMetadataOlder = replyMetadataBound(offered[0]);
    this.request = helloRequest(offered, offerAuth, extra, streamWindowBytes, readsMetadata);
  }

  /**
   * The peer answered the hello as no Skein server of today does, and did not refuse the
   * connection: a razor v1 server (it answers an unknown action `rpc_decode`, or
   * `rpc_method_notfound` once it fixes that). Such a server sends none of Skein's codes (100 and
   * up) of its own, so a bare `rpc_closed` or `rpc_overloaded` from it is its handler's error
   * bytes, passed on as razor passes any error on (a Skein downstream's refusal): the call ran
   * there. A Skein server from before the hello answers it `rpc_method_notfound` too and cannot be
   * told apart: its own bare refusals read "may have run" as well, the price of never running a
   * call twice. False when no hello was sent (limits under its size).
   */
  get v1Server(): boolean {
    return this.dialect === 'v1' && this.request !== undefined && this.refusal === undefined;
  }

  /** Runs `fn` once the answer is in (at once if it is). */
  whenKnown(fn: () => void): void {
    if (this.dialect === 'pending') this.waiters.push(fn);
    else fn();
  }

  /** The response with seq 0, at `bytes[start, end)`. Only the first one counts. */
  answer(bytes: Uint8Array, start: number, end: number): void {
    if (this.dialect !== 'pending') return;
    this.dialect = 'v1';
    try {
      this.read(bytes, start, end);
    } finally {
      this.known();
    }
  }

  /**
   * A response to a later request came first. A peer that answers the hello answers it before
   * anything sent after it (docs/protocol.md, The hello), so this one never will: plain v1.
   */
  unanswered(): void {
    if (this.dialect !== 'pending') return;
    this.dialect = 'v1';
    this.known();
  }

  /**
   * What a call or stream with `head` fails with when the head is over what the server reads
   * (known once the hello is answered). Both limits are this server's and the head is refused
   * unsent, so both are `retry: 'safe'` (another server may read it), as `checkCall`'s refusals
   * over the server's limits are: FrameTooLarge's default 'never' is for a frame a peer refused.
   */
  headTooLarge(head: Uint8Array | undefined): RpcError | undefined {
    const max = this.agreed?.maxHead ?? 0;
    if (head === undefined || max === 0) return undefined;
    // Counted as the server counts it (its entries too), so that it is refused here, unsent.
    const over = headOver(head, 0, head.length, max);
    if (over !== undefined) return new RpcError(ErrorCode.FrameTooLarge, `metadata of ${describeHeadOver(over, 'bytes encoded')} exceeds the server's limit of ${max}`, { retry: 'safe' });
    // The head goes as a request frame's message, which the server reads within its maxMessage
    // as any (sent, the connection would be lost): named here for what it is, not the call's message.
    const theirs = this.serverLimits;
    if (theirs === undefined) return undefined;
    if (head.length > theirs.maxMessage) {
      return new RpcError(ErrorCode.FrameTooLarge, `metadata of ${head.length} bytes encoded (the call's head) exceeds the server's limit of ${theirs.maxMessage} on a request's message (its hello's answer): not sent`, { retry: 'safe' });
    }
    // Its frame (header and head) over what the server's transport carries would close the connection, as a request's would.
    const frame = REQUEST_HEADER_LENGTH + head.length;
    const maxFrame = theirs.maxFrame;
    if (maxFrame === undefined || frame <= maxFrame) return undefined;
    return new RpcError(
      ErrorCode.FrameTooLarge,
      `metadata of ${head.length} bytes encoded (the call's head, a frame of ${frame} bytes) exceeds ${frameCapWords("the server's", maxFrame, 'server')}: not sent`,
      { retry: 'safe' },
    );
  }

  private read(bytes: Uint8Array, start: number, end: number): void {
    if (bytes[start + RES_FLAG_AT] === ResponseFlag.ErrorString) return this.readRefusal(bytes.slice(start + RESPONSE_HEADER_LENGTH, end));
    if (bytes[start + RES_FLAG_AT] !== ResponseFlag.Ok) return;
    const msgAt = start + RESPONSE_HEADER_LENGTH;
    const msgEnd = Math.min(msgAt + u32(bytes, start + RES_MSG_LEN_AT), end);
    let hello;
    try {
      hello = decodeHello(bytes, msgAt, msgEnd);
      if (hello.version !== HELLO_VERSION || hello.role !== HelloRole.Answer) return;
      this.agreed = agreedBy(hello, this.streamWindowBytes);
      this.authAsked = findEntry(hello, HelloKind.Auth) !== undefined;
      const cap = findEntry(hello, IN_FLIGHT_CAP_KIND);
      this.maxInFlight = cap === undefined ? undefined : readInFlightCap(cap);
      const limits = findEntry(hello, REQUEST_LIMITS_KIND);
      this.serverLimits = limits === undefined ? undefined : readRequestLimits(limits);
      const read = replyMetadataRead(this.replyMetadataOffered, this.replyMetadataOlder, findEntry(hello, REPLY_METADATA_KIND));
      this.replyMetadataMax = read.max;
      this.replyMetadataTold = read.told;
    } catch (err) {
      if (err instanceof HelloError) return;
      throw err;
    }
    this.accepted = hello.entries.map((e) => e.kind);
    // Copied: the values are views of a frame the transport reuses.
    this.answerEntries = hello.entries.map((e) => ({ kind: e.kind, value: e.value.slice() }));
    this.dialect = 'agreed';
  }

  /** An error answer: a v1 peer's (a razor code: it knows no hello), or a Skein server's refusal of the connection. */
  private readRefusal(body: Uint8Array): void {
    const e = readErrorBytes(body);
    if (e instanceof RpcError && e.code >= ErrorCode.Cancelled) this.refusal = e;
  }

  private known(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const fn of waiters) fn();
  }
}

/** The extensions an answer accepts; a server's window of 0 could never be used, so streams need more. */
function agreedBy(hello: Hello, streamWindowBytes: number): Agreed | undefined {
  const cancel = findEntry(hello, HelloKind.Cancel) !== undefined;
  const head = findEntry(hello, HelloKind.CallHead);
  const maxHead = head === undefined ? 0 : readU32Value(HelloKind.CallHead, head);
  const window = findEntry(hello, HelloKind.Streams);
  const toServer = window === undefined ? 0 : readU32Value(HelloKind.Streams, window);
  const streams = toServer > 0 && cancel ? { toServer, toClient: streamWindowBytes } : undefined;
  if (!cancel && maxHead === 0 && !streams) return undefined;
  return { cancel, maxHead, streams };
}

/**
 * The largest reply frame to name in the offer (kind 1's max_frame): the transport's, where a
 * server could send a unit over it (wire/frame-cap-named.ts): a reply frame the limits allow (a
 * WebSocket client's default maxWsMessageBytes under 16 MiB + 64 MiB), or, over WebSocket, a
 * message of several replies, packed up to the server's `maxBatchBytes` (1 MiB) whatever the
 * limits. Over it the connection closes (1009) and every call on it reads "may have run"; named,
 * the server refuses a reply over it (FrameTooLarge, naming the option) and cuts its messages at
 * it, and the connection stays. Elsewhere the entry stays 8 bytes.
 */
function replyFrameBound(limits: Limits, maxFrameBytes: number | undefined, packs: boolean): number | undefined {
  return frameCapToName(maxFrameBytes, RESPONSE_HEADER_LENGTH + limits.maxMessage + limits.maxBlob, packs);
}

/** Kind 1's fields: each limit cut to what a frame of `maxFrame` holds, so that a server from before max_frame (which reads two fields) holds each part within it too. */
function receiveLimits(limits: Limits, maxFrame: number | undefined): [number, number, number | undefined] {
  if (maxFrame === undefined) return [limits.maxMessage, limits.maxBlob, undefined];
  const room = Math.max(0, maxFrame - RESPONSE_HEADER_LENGTH);
  return [Math.min(limits.maxMessage, room), Math.min(limits.maxBlob, room), maxFrame];
}

function helloRequest(offered: [number, number, number | undefined], offerAuth: boolean, extra: readonly HelloEntry[], streamWindowBytes: number, readsMetadata: number): Uint8Array {
  const entries = [
    receiveLimitsEntry(...offered),
    u32Entry(HelloKind.Cancel),
    u32Entry(HelloKind.CallHead),
    u32Entry(HelloKind.Streams, streamWindowBytes),
    // Every client that sends a hello answers server pings (ClientStream.onFrame), reverse dispatch or not.
    SERVER_PINGS_ENTRY,
    // Every client that sends a hello keeps its window within the server's cap (ClientStream's throttler).
    IN_FLIGHT_CAP_OFFER,
    // Every client that sends a hello reads a draining server's goodbye (ClientStream.onFrame).
    GOODBYE_ENTRY,
    // Every client that sends a hello refuses, unsent, a request over the server's limits (ClientStream.checkCall).
    REQUEST_LIMITS_OFFER,
  ];
  // Every client that sends a hello reads reply metadata (ClientStream.onFrame), whether its calls
  // ask for it or not, up to its `limits.maxReplyMetadata` (none for 0: the entry is left out).
  const replyMetadata = replyMetadataOffer(readsMetadata);
  if (replyMetadata !== undefined) entries.push(replyMetadata);
  if (offerAuth) entries.push(AUTH_ENTRY);
  entries.push(...extra);
  const msg = encodeHello(HelloRole.Offer, entries);
  const frame = new Uint8Array(REQUEST_HEADER_LENGTH + msg.length);
  writeRequestHeader(frame, HELLO_ACTION, 0, HELLO_SEQ, msg.length, 0);
  frame.set(msg, REQUEST_HEADER_LENGTH);
  return frame;
}
