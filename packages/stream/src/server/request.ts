import { EMPTY_BYTES, ErrorCode, isErrorCode, type RpcError, type ErrorPayload, type PeerIdentity } from '@skein/core';
import { actionName, passedOnDetail } from '../wire/error-detail.js';
import { kindOf } from '../internals/kind-of.js';
import { escapeCustomBytes } from '../wire/error-strings.js';
import type { ReplyLimits } from '../wire/limits.js';
import { overBindingFrameCap, replyOverLimits } from './reply-over-limits.js';
import { RESPONSE_HEADER_LENGTH, seqBytesOf } from '../wire/protocol.js';
import { NO_METADATA, type Metadata } from '../wire/call-head.js';
import { ReplyMetadata } from './reply-metadata.js';
import type { CallControl, Controlled } from './call-control.js';
import { noop } from '../internals/abort-listeners.js';
import type { RequestStream } from './request-stream.js';
import type { ConnKind } from './conn-kind.js';
import type { Caller } from '../client/caller.js';
import type { AbortSource } from '../client/call-options.js';
import type { StreamRoomCap } from '../wire/stream-room.js';

/** Facts about the connection a request came in on. */
export interface ConnInfo {
  /** Unique per server. */
  readonly id: number;
  readonly remote: string;
  readonly transport: string;
  /** Who the connection's credentials were accepted as (the server's `authenticate`); undefined when it did not authenticate. */
  readonly principal?: unknown;
  /** Aborts when the connection closes. */
  readonly signal: AbortSignal;
  /**
   * Aborts (reason: a Closed RpcError) when the server begins to close (`server.close()`): it
   * takes no new calls and waits up to `closeWaitMs` for those running, open streams included.
   * Not a cancel: the call is still waited for, and what it answers goes out. A long handler (a
   * feed that runs until told) ends on it, answering normally, and the close need not wait.
   * One signal for the whole server, made on first read: listen with `{ once: true }` and remove
   * the listener when the call ends, or it stays until the server closes.
   */
  readonly draining: AbortSignal;
  /** The verified TLS client certificate's identity (mTLS); undefined on plaintext or without `requestCert`. */
  readonly identity?: PeerIdentity;
  /** Peer or client, as the server's `peers.admit` decided (docs/protocol.md, "Peers and clients"); a server without `peers` has only clients. */
  readonly kind?: ConnKind;
  /**
   * Calls the services the other side serves over this connection (it connected with `serve`,
   * and the hello agreed calls both ways): `createClient(Def, req.conn.caller, { codec })`.
   * Undefined on a connection that did not offer to serve (a razor v1 client, among others),
   * and, on a server that authenticates, until its credentials are accepted (while it may not
   * call, it is not called).
   */
  readonly caller?: Caller;
}

/**
 * Where a request's answer goes: the server connection it came in on. A contract of its own so
 * that a request knows only how to answer, not the connection that implements it.
 */
export interface Responder {
  readonly info: ConnInfo;
  /**
   * What aborts its plain calls (the connection closed, or its peer ended it), told without a
   * signal: what a plain call's `ServerRequest.onAbort` hooks. Without it, `info.signal`.
   */
  readonly callAbort?: AbortSource;
  /** The connection's principal, as the last accepted credentials said (ConnInfo's). */
  readonly principal?: unknown;
  /** What the peer takes in a reply (its hello told them, or the wire's ceilings). */
  readonly peerLimits: ReplyLimits;
  /** False, with nothing written, when the reply is over the peer's limits. */
  writeOk(seqLo: number, seqHi: number, msg: Uint8Array, blob: Uint8Array): boolean;
  writeError(seqLo: number, seqHi: number, code: ErrorCode, detail?: string): void;
  /** The server's own refusal of a stream for room on its connection, the one answer with the sign (a server's connection alone writes it). */
  writeRoomRefusal?(seqLo: number, seqHi: number, cap: StreamRoomCap): void;
  /** False, with nothing written, when the error string is over the peer's limits. */
  writeCustomError(seqLo: number, seqHi: number, payload: ErrorPayload): boolean;
  /**
   * Words for a reply of `msg` and `blob` bytes that `writeOk` refused, naming the option to raise.
   * Without it, a client's reply limits are named (a server connection's words).
   */
  overLimitsWords?(msg: number, blob: number): string;
  /**
   * Words for a custom error of `bytes` (escaped, as sent) that `writeCustomError` refused, as
   * `overLimitsWords` for a reply. Without it, a client's limits are named (a server connection's).
   */
  errorOverLimitsWords?(bytes: number): string;
  /** Fails a call whose answer the peer could not take (FrameTooLarge, logged). */
  writeTooLarge(seqLo: number, seqHi: number, detail: string): void;
  /**
   * Fails a call whose handler answered with what is no answer (a reply that is not bytes, a
   * code that is no ErrorCode): Internal, as the handler ran; logged, naming `action` and `why`.
   * Whether `why` reaches the client is the Responder's to decide, as for its other Internal answers.
   */
  writeRefused(seqLo: number, seqHi: number, action: string | number, why: string): void;
  /**
   * The largest reply head (counted as a call head: wire/head-size.ts) the peer reads; 0 when its
   * hello did not agree reply metadata (wire/reply-metadata.ts). Absent: never agreed (a reverse
   * call's answer): what a handler sets is then dropped. A worker's connection (@skein/workers)
   * names the bound its pool was told, and hands the head back with the answer.
   */
  replyMetadataRoom?(): number;
  /** Writes a call's reply head just before its answer (only where `replyMetadataRoom` said there was room). */
  writeReplyMetadata?(seqLo: number, seqHi: number, head: Uint8Array): void;
  /** One answer was written: the slot it held is free. */
  settled(): void;
  /**
   * A call was abandoned (cancelled, past its deadline) while its handler ran: its slot is free,
   * but the handler may run on until `abandonedEnded`. A Responder that bounds running handlers
   * counts these, or a peer that cancels every call it makes runs any number at once. True when
   * it counts this one (its dispatch tells when `req`'s handler ends: Dispatch.tellsHandlerEnds,
   * or `tellsHandlerEndOf(req)`); asked here, when the call is abandoned, not when it comes, so
   * that a call pays nothing for it until then.
   */
  abandonedRunning?(req: ServerRequest): boolean;
  /**
   * A handler counted by `abandonedRunning` ended: `req`'s (a Responder that passes the count on,
   * as a worker's connection does to its pool, says whose).
   */
  abandonedEnded?(req: ServerRequest): void;
}

/**
 * One request and the way to answer it. Exactly one answer is sent; later answers are ignored
 * (and so are answers after the connection closed).
 */
export class ServerRequest implements Controlled, AbortSource {
  private answered = false;
  /**
   * @internal Set only for a call that came with a head (deadline, metadata, a signal on the
   * client) or opened a stream: a plain call carries nothing more than razor's.
   */
  control: CallControl | undefined = undefined;
  /** Abandoned while its handler ran, and counted by the owner: it is told once, when the handler ends. */
  private runsAbandoned = false;
  /** What the handler set for its reply (`setReplyMetadata`), for a client that reads it: made at the first entry. */
  private replyMetadata: ReplyMetadata | undefined = undefined;

  constructor(
    private readonly owner: Responder,
    /** The request's u64 seq as two u32 halves, echoed verbatim in the response. */
    private readonly seqLo: number,
    private readonly seqHi: number,
    /** Numeric action, or -1 for a string action. */
    readonly actionId: number,
    /** The string action (`"Service.method"`), or '' for a numeric action. */
    readonly actionName: string,
    readonly msg: Uint8Array,
    readonly blob: Uint8Array,
  ) {}

  /** The request's seq bytes, as they came (a fresh copy per read; the server itself answers from the halves). */
  get seqBytes(): Uint8Array {
    return seqBytesOf(this.seqLo, this.seqHi);
  }

  get action(): string | number {
    return this.actionId < 0 ? this.actionName : this.actionId;
  }

  get conn(): ConnInfo {
    return this.owner.info;
  }

  /**
   * Who the client is, as the server's `authenticate` hook accepted its connection's
   * credentials (the latest ones, after a renewal); undefined when it did not authenticate.
   */
  get principal(): unknown {
    return this.owner.principal;
  }

  get isAnswered(): boolean {
    return this.answered;
  }

  /** AbortSource's: it came over `conn` and is unanswered (a reverse call made with it goes in the drain). Public: @skein/api's CallContext asks it. */
  unansweredOn(conn: object): boolean {
    return conn === this.owner && !this.answered;
  }

  /**
   * Fires when nobody waits for the answer any more: the client cancelled the call, its
   * deadline passed (the reason is then a Timeout RpcError), or the connection closed. A
   * handler that ignores it still has its answer dropped and its slot freed.
   */
  get signal(): AbortSignal {
    return this.control !== undefined ? this.control.signal : this.owner.info.signal;
  }

  /**
   * The call came with a head (a deadline, metadata, or a signal on the client): it can be
   * cancelled or time out alone, and its `signal` and `onAbort` are its own. A plain call's are its
   * connection's: it ends only with it. Read without making anything (`signal` makes the call's
   * own AbortController): a dispatch that watches only the calls a client may cancel asks this.
   */
  get headed(): boolean {
    return this.control !== undefined;
  }

  /** `signal` has fired (read without making the call's own signal): the call is cancelled, past its deadline, or its connection closed. */
  get aborted(): boolean {
    if (this.control !== undefined) return this.control.aborted;
    const callAbort = this.owner.callAbort;
    return callAbort !== undefined ? callAbort.aborted : this.owner.info.signal.aborted;
  }

  /**
   * For library authors: `listener` is told the reason once, when `signal` fires (at once when it
   * has), without the call's own signal being made for it; returns a function that unhooks it.
   * A handler's `ctx.signal` links to its call this way (@skein/api), so a call made with
   * `{ ctx }` costs one AbortController, not two, and no listener on a signal of the call's.
   */
  onAbort(listener: (reason: unknown) => void): () => void {
    if (this.control !== undefined) return this.control.onAbort(listener);
    const callAbort = this.owner.callAbort;
    // Wrapped: the connection's listeners are every plain request's, and a function two requests
    // hook (a library's one listener) must stay hooked for the one that did not unhook it.
    if (callAbort !== undefined) return callAbort.onAbort((reason) => listener(reason));
    const source = this.owner.info.signal;
    if (source.aborted) {
      listener(source.reason);
      return noop;
    }
    const onAbort = (): void => listener(source.reason);
    source.addEventListener('abort', onAbort, { once: true });
    return () => source.removeEventListener('abort', onAbort);
  }

  /** When the client stops waiting, in the server clock's ms (`performance.now()` by default, not the epoch); undefined: no deadline was sent. */
  get deadline(): number | undefined {
    return this.control?.deadline;
  }

  /**
   * Ms left until the deadline, by the server's clock (negative once past); undefined without a
   * deadline. What a call made on this one's behalf may take: no guess at network time.
   */
  remainingMs(): number | undefined {
    return this.control?.remainingMs();
  }

  /** The call's metadata (docs/protocol.md, "Call head"): empty when none was sent. */
  get metadata(): Metadata {
    return this.control !== undefined ? this.control.metadata : NO_METADATA;
  }

  /**
   * Sets the entry `key` of the metadata sent back with this call's answer (docs/protocol.md,
   * "Reply metadata"), ok or error; on a stream's request, with the stream's end (its answer,
   * after every item written before it), as gRPC's trailers: the client reads it with its
   * `onReplyMetadata` call option. A key set again takes the new value. Checked here, as it is
   * set: InvalidArgument for an entry no head carries (a key that is no string of 1 to 255 bytes,
   * a value that is no string of at most 65,535), FrameTooLarge when the entries together would
   * be over what the client reads (8 KiB counted as a call head is, within its reply limits); the
   * entry is then not kept. A client whose hello did not agree reply metadata (a razor v1 client,
   * an older Skein one) is sent none: entries are then dropped unsaid, and so are those set once
   * the call is answered (a stream ended, cancelled or past its deadline).
   */
  setReplyMetadata(key: string, value: string): void {
    if (this.answered) return;
    const room = this.owner.replyMetadataRoom?.() ?? 0;
    if (room === 0) return;
    (this.replyMetadata ??= new ReplyMetadata()).set(key, value, room);
  }

  /**
   * The largest reply head (its entries counted as a call head is: 32 bytes each besides their
   * own) this call's client reads: 0 when it reads none (its hello did not agree reply metadata)
   * or the call is answered. For a dispatch that runs the handler elsewhere (a WorkerPool's
   * worker thread), to check entries there as `setReplyMetadata` does here.
   */
  get replyMetadataRoom(): number {
    return this.answered ? 0 : (this.owner.replyMetadataRoom?.() ?? 0);
  }

  /**
   * Sets the entries of `head`, the reply head a handler's request wrote elsewhere (a worker
   * thread's, through its Responder's `writeReplyMetadata`), as `setReplyMetadata` sets each:
   * checked again here against what this call's client reads (InvalidArgument, FrameTooLarge,
   * nothing kept), dropped unsaid for a client that reads none or a call answered already.
   */
  setReplyMetadataHead(head: Uint8Array): void {
    const room = this.replyMetadataRoom;
    if (room === 0) return;
    (this.replyMetadata ??= new ReplyMetadata()).setFrom(head, room);
  }

  /**
   * The reply head of the entries set so far (`setReplyMetadata`), encoded as it will go;
   * undefined while none is, and once it went with the answer. For a dispatch whose handler runs
   * elsewhere, to send it where the call is answered before the handler answers (a WorkerPool's
   * worker, for the server's own Timeout at the call's deadline), to `setReplyMetadataHead`.
   * A copy, made at each read: what is written into it is not sent (the head that goes was
   * checked as each entry was set, and a client closes its connection at one that does not parse).
   */
  get replyMetadataHead(): Uint8Array | undefined {
    return this.replyMetadata?.head?.slice();
  }

  /** The stream the client opened with this request; undefined for a plain call. */
  get stream(): RequestStream | undefined {
    return this.control?.stream;
  }

  /**
   * @internal Ends the call without an answer (the client cancelled it: nobody reads one) or
   * with a built-in error of the server's own (its deadline passed). Frees its slot either way.
   */
  abandon(err: RpcError, answer: boolean): void {
    if (this.answered) return;
    this.claim();
    if (answer) {
      // What the handler set before its deadline goes with the server's Timeout, as with the
      // answer a handler timeout gives (`fail`): which of the two timeouts answers is a race.
      if (this.replyMetadata !== undefined) this.sendReplyMetadata();
      this.owner.writeError(this.seqLo, this.seqHi, err.code, err.message);
    }
    if (this.owner.abandonedRunning?.(this) === true) this.runsAbandoned = true;
    this.owner.settled();
  }

  /**
   * For a dispatch that tells when handlers end (`Dispatch.tellsHandlerEnds`) and answers a call
   * itself while its handler may run on (its own handler timeout, where a handler can ignore its
   * signal): call this just before that answer. The handler then counts against its connection
   * until the dispatch says it ended (`handlerEnded`, or its late answer), as the handler of a
   * call its client abandoned does; otherwise each timeout would free a slot and let another
   * handler start beside the one still running, without bound. Before the answer, not after:
   * the slot the answer frees may start a held request at once. Does nothing on a call already
   * answered, or under a dispatch that does not tell handler ends.
   */
  runsOn(): void {
    if (!this.answered && !this.runsAbandoned && this.owner.abandonedRunning?.(this) === true) this.runsAbandoned = true;
  }

  /**
   * For a dispatch that tells when handlers end (`Dispatch.tellsHandlerEnds`): the handler of a
   * call answered before it ended (abandoned by its client, past its deadline, or answered after
   * `runsOn`) has ended without an answer of its own. A late answer (`reply`, `fail`) says so
   * itself; a dispatch whose handler gives none once the call is answered (`isAnswered`) calls
   * this instead, so that the handler stops counting against its connection (Responder's
   * `abandonedRunning`) and the connection's reading, held while such handlers fill its cap,
   * goes on. Idempotent; does nothing for a handler that was not counted.
   */
  handlerEnded(): void {
    if (!this.runsAbandoned) return;
    this.runsAbandoned = false;
    this.owner.abandonedEnded?.(this);
  }

  /**
   * Answers with an ok response. A reply over the client's receive limits (its hello tells them)
   * is not sent: the call fails with FrameTooLarge instead of the client's whole connection; one
   * that is not bytes (a raw JavaScript handler's string, an ArrayBuffer) fails Internal, logged.
   * Returns the code of the error sent instead, so that whoever records the call (tracing)
   * records what the client saw; undefined when the reply went out, or when nothing did as the
   * call was answered before (`isAnswered`). A number, not an object: this is every call's path.
   */
  reply(msg: Uint8Array = EMPTY_BYTES, blob: Uint8Array = EMPTY_BYTES): ErrorCode | undefined {
    if (!this.claim()) return undefined;
    if (this.replyMetadata !== undefined) this.sendReplyMetadata();
    // Typed away, but a string has a length and numbered places as bytes do: it would go out as
    // that many zeros, an answer nobody sent.
    if (!(msg instanceof Uint8Array)) return this.refuse(`the reply's msg is ${kindOf(msg)}, not bytes (a Uint8Array)`);
    if (!(blob instanceof Uint8Array)) return this.refuse(`the reply's blob is ${kindOf(blob)}, not bytes (a Uint8Array)`);
    let instead: ErrorCode | undefined;
    if (!this.owner.writeOk(this.seqLo, this.seqHi, msg, blob)) {
      this.owner.writeTooLarge(this.seqLo, this.seqHi, `${actionName(this.action)}: ${this.owner.overLimitsWords?.(msg.length, blob.length) ?? replyOverLimits('reply', msg.length, blob.length, this.owner.peerLimits)}`);
      instead = ErrorCode.FrameTooLarge;
    }
    this.owner.settled();
    return instead;
  }

  /**
   * Answers with a built-in error (travels as its reserved `rpc_*` string). `detail`, when given,
   * travels after the string and becomes the client's error message. A bare code is the server's
   * own word (`req.fail(ErrorCode.Overloaded)`: refused unrun, a client may retry it elsewhere);
   * an RpcError passed as it is, without a detail, is the handler's, and an Overloaded or Closed
   * one travels with a detail naming the action, so that the client reads "may have run" (an
   * empty `detail` sends it bare all the same: a refusal of the server's own). A code that is no
   * ErrorCode (an HTTP status, 2^32 + 105, -1, 7.5) is not sent, nor wrapped into another: the
   * call fails Internal, logged (`isErrorCode` tells which). Returns nothing, unlike `reply`:
   * `(req) => req.fail(code)` is a router handler's idiom, and a handler returns its answer.
   */
  fail(err: RpcError | ErrorCode, detail?: string): void {
    const code = typeof err === 'number' ? err : (err as RpcError | null)?.code;
    if (!this.claim()) return;
    if (this.replyMetadata !== undefined) this.sendReplyMetadata();
    if (!isErrorCode(code)) {
      this.refuse(`the handler failed with ${typeof err === 'number' ? err : kindOf(err)}, which is no error code`);
      return;
    }
    // A bare code is the server's own word; an RpcError object is what the handler got, which
    // must not travel as a bare refusal ("never ran") when no detail says otherwise.
    const sent = detail === undefined && typeof err === 'object' ? passedOnDetail(err, actionName(this.action)) : detail;
    this.owner.writeError(this.seqLo, this.seqHi, code, sent);
    this.owner.settled();
  }

  /**
   * @internal Refuses a stream unrun for room on its connection (its budget, its cap on open
   * streams): the server's own refusal path alone calls it, before the handler runs. `fail` with
   * the same words sends them marked as passed on (`unsignedDetail`).
   */
  refuseForRoom(cap: StreamRoomCap): void {
    if (!this.claim()) return;
    this.owner.writeRoomRefusal!(this.seqLo, this.seqHi, cap);
    this.owner.settled();
  }

  /**
   * Answers with a method's custom error: a number (flag 1) or bytes (flag 2). Returns, as
   * `reply` does, the code of the built-in error sent instead (Internal for a number that is not
   * a u32 or a payload that is not bytes, FrameTooLarge for bytes over the client's limits), else
   * undefined.
   */
  failCustom(payload: ErrorPayload): ErrorCode | undefined {
    if (!this.claim()) return undefined;
    if (this.replyMetadata !== undefined) this.sendReplyMetadata();
    if (typeof payload === 'number') {
      if (!(Number.isInteger(payload) && payload >= 0 && payload <= 0xffff_ffff)) return this.refuse(`the custom error number ${payload} is not a u32`);
    } else if (!(payload instanceof Uint8Array)) {
      return this.refuse(`the custom error is ${kindOf(payload)}, not bytes (a Uint8Array)`);
    }
    let instead: ErrorCode | undefined;
    // Refused only for bytes (a number has no body); measured as sent, escape byte and all.
    if (!this.owner.writeCustomError(this.seqLo, this.seqHi, payload)) {
      const length = escapeCustomBytes(payload as Uint8Array).length;
      const limits = this.owner.peerLimits;
      // Not a client's limits where the peer is the server (a reverse answer): its own words.
      const words = this.owner.errorOverLimitsWords?.(length);
      if (words !== undefined) this.owner.writeTooLarge(this.seqLo, this.seqHi, `${actionName(this.action)}: ${words}`);
      // Over the largest frame the client's transport carries, the words name that (its hello's max_frame) as a reply's do.
      else if (overBindingFrameCap(RESPONSE_HEADER_LENGTH + length, limits)) this.owner.writeTooLarge(this.seqLo, this.seqHi, `${actionName(this.action)}: ${replyOverLimits('error reply', length, 0, limits)}`);
      else this.tooLarge('error reply', length, limits.maxError);
      instead = ErrorCode.FrameTooLarge;
    }
    this.owner.settled();
    return instead;
  }

  /** The reply head, written just before the answer that follows (whatever it is: the handler's, or an error the server sends instead). */
  private sendReplyMetadata(): void {
    const head = this.replyMetadata!.head;
    this.replyMetadata = undefined;
    if (head !== undefined) this.owner.writeReplyMetadata?.(this.seqLo, this.seqHi, head);
  }

  /** Fails the claimed call Internal for an answer that is none (see `Responder.writeRefused`). */
  private refuse(why: string): ErrorCode {
    this.owner.writeRefused(this.seqLo, this.seqHi, this.action, why);
    this.owner.settled();
    return ErrorCode.Internal;
  }

  private tooLarge(what: string, length: number, limit: number): void {
    this.owner.writeTooLarge(this.seqLo, this.seqHi, `${actionName(this.action)}: ${what} of ${length} bytes exceeds the client's limit of ${limit}`);
  }

  /** First answer wins. The owner is told after the answer is written: the last one may end the connection. */
  private claim(): boolean {
    if (this.answered) {
      // An answer after the call was abandoned: its handler ended.
      this.handlerEnded();
      return false;
    }
    this.answered = true;
    if (this.control !== undefined) this.control.answered();
    return true;
  }
}

