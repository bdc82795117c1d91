import { CODE_INFO, EMPTY_BYTES, ErrorCode, FrameError, systemClock, takeBytes, type ErrorPayload, type FrameConn, type FrameHandlers, type FrameSpec, type Logger } from '@skein/core';
import { fittedDetail } from '../wire/error-strings.js';
import { actionName } from '../wire/error-detail.js';
import { RecentStrings } from '../wire/recent-strings.js';
import type { ServerConnOptionsOf } from './server-conn-options.js';
import {
  ACTION_LEN_MASK,
  ACTION_STRING_BIT,
  HELLO_ACTION,
  PING_ACTION,
  REQ_ACTION_AT,
  REQ_MSG_LEN_AT,
  REQUEST_HEADER_LENGTH,
  RESPONSE_HEADER_LENGTH,
  ResponseFlag,
  SEQ_AT,
  u32,
  writeResponseHeaderHalves,
} from '../wire/protocol.js';
import { customErrorResponseHalves, errorResponseHalves, roomRefusalResponseHalves } from '../wire/responses.js';
import type { StreamRoomCap } from '../wire/stream-room.js';
import { WIRE_REPLY_LIMITS, type ReplyLimits } from '../wire/limits.js';
import { DEFAULT_SERVER_EXTENSIONS, type HelloOutcome, type ServerExtensions } from './hello-answer.js';
import { DEFAULT_STREAM_BUDGET } from './stream-budget.js';
import { greet, type HelloLink } from './conn-hello.js';
import { ConnExtensions, type ExtensionsHost } from './conn-extensions.js';
import type { Agreed } from '../wire/agreed.js';
import { NONE_AGREED, sharedAgreed, sharedLimits } from './hello-terms.js';
import { CANCEL_ACTION, LAST_EXTENSION_ACTION } from '../wire/extension-frames.js';
import { AUTH_ACTION } from '../wire/auth.js';
import { ConnAuth, type AuthWire } from './conn-auth.js';
import { OBSERVER_DROPPED } from '../client/item-observer.js';
import { ServerRequest, type ConnInfo, type Responder } from './request.js';
import { handlerEndToldBy, itemsReadBy } from './dispatch.js';
import { REVERSE_ANSWER_ACTION } from '../wire/reverse-calls.js';
import type { ReverseCaller, ReverseSettings } from './reverse-caller.js';
import { connInfo, type InfoLink } from './conn-info.js';
import { probationTimedOut, refuseOnProbation, sendAway } from './conn-probation.js';
import type { ConnRole } from './conn-census.js';
import { LazyAbort } from '../internals/lazy-abort.js';
import { ConnSeldom } from './conn-seldom.js';
import { SERVER_PING_FRAME, SERVER_PONG_ACTION } from '../wire/server-pings.js';
import { GOODBYE_FRAME, withGoodbye } from '../wire/goodbye.js';
import { replyMetadataBound, replyMetadataFrame } from '../wire/reply-metadata.js';
import { widerLimits } from '../wire/request-limits.js';
import { FRAMES_PER_TURN, firstReadOfTurn, type TurnReader } from './read-turns.js';
import type { Limits } from '../wire/limits.js';

/** The ok responses' header, written and copied out by one connection at a time (FrameConn.write copies small parts). */
const OK_HEADER = new Uint8Array(RESPONSE_HEADER_LENGTH);

/*
 * A ServerConn's booleans, as bits of one field (`bits`): a field is 8 bytes, at 10,000 idle
 * connections (docs/benchmarks.md, "Memory"). Read with `is`, written with `mark`.
 */
/** Reading is paused (requests in flight at the cap, congestion, or a turn's frames read: YIELDED). */
const PAUSED = 1;
/** Closing gracefully: new requests are refused with Closed. */
const DRAINING = 2;
/**
 * Draining while requests still arrive: the connection stays open (refusing them with Closed)
 * until the client ends its side, which it does once a Closed answer made it move on, or
 * falls quiet for a tick. Ending at once would cut off requests already on their way; a
 * connection with no call since the last tick ends at once, as there is likely none.
 */
const AWAIT_PEER = 4;
/** The client half-closed. */
const PEER_ENDED = 8;
const CLOSED = 16;
/** Past the clients' cap, waiting for credentials that make it a peer: it may make no call. */
const PROBATION = 32;
/** The server is closing: it makes no new reverse call here, even on calls both ways agreed only now. */
const NO_REVERSE = 64;
/** Sent away from probation (sendAway): told why once; what it sends again is refused bare, unjudged, unlogged. */
const SENT_AWAY = 128;
/**
 * It sent a hello (one that parsed or not), so it reads a bare `rpc_closed` as "leave this connection". A peer that sent
 * none (razor v1) reads it as a custom error and keeps sending: only the connection's end tells
 * it to go, so a draining server does not wait for it to end its side.
 */
const GREETED = 256;
/** Its hello offered to answer server pings (wire/server-pings.ts): only then is it sent one. */
const ANSWERS_PINGS = 512;
/** A server ping is out, unanswered as of the last tick: `keepaliveAt` is when it went. */
const PING_OUT = 1024;
/** Its hello offered to read a goodbye (wire/goodbye.ts): a draining end sends it one. */
const READS_GOODBYE = 2048;
/**
 * It read FRAMES_PER_TURN frames in this turn (read-turns.ts): paused until the turn's end,
 * whatever else would resume it sooner (an answer's `settled`, a drain), so the event loop gets
 * its turn; then reading goes on as maybeResume allows (not while congested, held at the cap, or closed).
 */
const YIELDED = 4096;
/** Dispatches whose `readsItems` threw, said once each (ServerConn.readsItems). */
const THREW_READS_ITEMS = new WeakSet<object>();
/** Its hello offered to read reply metadata (wire/reply-metadata.ts): only then is a handler's sent. */
const READS_REPLY_METADATA = 8192;

/** A connection's spec (ServerConn.refusingSpec): the kind's, and the connection whose refusals may end with a goodbye, as fields. */
interface RefusingSpec extends FrameSpec {
  readonly kind: FrameSpec;
  readonly host: ServerConn;
}

/**
 * RefusingSpec's `bodyLength`, called as its method (FrameSpec: `spec.bodyLength(bytes, at)`,
 * as core's frameBodyLength does): a copy of the spec (`{ ...spec }`) has the fields too. A
 * transport that calls it detached is told so, on the throw path alone (reading `this.kind`
 * threw), rather than with a TypeError about `kind`.
 */
function refusingBodyLength(this: RefusingSpec, bytes: Uint8Array, at: number): number {
  try {
    return this.kind.bodyLength(bytes, at);
  } catch (err) {
    if ((this as RefusingSpec | undefined)?.host === undefined) throw calledDetached(this);
    throw this.host.lastWords(err);
  }
}

/** What a transport that called a server connection's `bodyLength` detached (or on another object) is told: the rule it broke. */
function calledDetached(self: unknown): FrameError {
  return new FrameError(
    `the transport called FrameSpec.bodyLength with this ${self === undefined ? 'undefined' : 'not its spec'}: ` +
      "call it as the spec's method, spec.bodyLength(bytes, at), as core's frameBodyLength(spec, bytes, at) does, never detached (a server connection's spec reads its own fields; a copy, { ...spec }, is fine: docs/transports.md)",
  );
}

/** What the connections of one listener share (server-conn-options.ts). */
export type ServerConnOptions = ServerConnOptionsOf<ServerConn>;

/**
 * The server's side of one connection: the reader parses requests and hands them to Dispatch
 * (answering pings itself); the writer is the transport's batch, sent at the end of each
 * turn or sooner once it is big (so a long turn's first answers leave early), and responses
 * leave in completion order.
 */
export class ServerConn implements FrameHandlers, Responder, ExtensionsHost, HelloLink, InfoLink, TurnReader {
  inFlight = 0;
  /**
   * Set per call (one read, or a reverse call sent), cleared per tick: cheaper than reading the
   * clock for every frame. Pings and the hello do not set it: a peer that only pings is idle, however often it pings.
   */
  sawCall = true;
  /** When the server's tick last saw this connection busy (a call, or a request in flight), in the tick's TickedTime. */
  lastFrameAt = 0;
  /** Frames read, of any kind: the read timeout asks whether one was finished since its last look. */
  framesRead = 0;
  /** Frames read in this turn of the event loop (read-turns.ts): 0 until its first, and again after the turn's end. */
  private turnFrames = 0;
  /** When the tick first found the connection in the middle of the frame it is still in, in the tick's TickedTime; -1 when not. */
  midFrameSince = -1;
  /** `framesRead` at `midFrameSince`. */
  framesAtMidFrame = 0;
  /** Server keepalive (server-keepalive.ts): `framesRead` when the tick last heard from the client. */
  framesAtHeard = 0;
  /** When the tick last heard from it, or, with a ping out (`pingOut`), when the ping went: one field, not two. */
  keepaliveAt = 0;
  /** What the client takes in a reply: the wire's ceilings until its hello says otherwise. */
  peerLimits: ReplyLimits = WIRE_REPLY_LIMITS;
  /** The reply head bound its hello's kind 27 named (its `limits.maxReplyMetadata`), once agreed (READS_REPLY_METADATA). */
  private replyMetadataAsked = 0;
  /** The connection's booleans (see the bits at the top), in one field rather than six: 40 bytes less per connection. */
  private bits = 0;
  /** What aborts its plain calls (a close, the peer's end): made when a call or handler first listens. */
  private abort: LazyAbort | undefined;
  private _info: ConnInfo | undefined;
  /** The strings of the last call head, made at the first head: a client that sends none never needs them. */
  private headStrings: RecentStrings | undefined;
  /** What the hello agreed: cancel, call heads, streams (a razor v1 peer agrees none). */
  private agreed: Agreed | undefined;
  /** Their state, made at the first extension frame: a connection that only makes plain calls never needs it. */
  private ext: ConnExtensions | undefined;
  /** Streams open (not counted in `inFlight`). */
  private streams = 0;
  /** The connection's authentication, when the server authenticates. */
  readonly auth: ConnAuth | undefined;
  /** Its kind and the kind's limits (conn-kind.ts), as the server set them: `applyRole`. */
  role: ConnRole | undefined = undefined;
  private maxInFlight: number;
  /** This kind's frame limits, when narrower than the listener's and the transport cannot take them (`applyRole`). */
  private frameCheck: FrameSpec | undefined = undefined;
  /** Held requests, the write-stall watch, the drain's count, reverse calls (conn-seldom.ts): made when first needed. */
  private seldom: ConnSeldom | undefined = undefined;

  constructor(
    readonly conn: FrameConn,
    private readonly opts: ServerConnOptions,
    private readonly id: number,
  ) {
    this.auth = opts.auth && new ConnAuth(opts.auth, this.authWire());
    this.maxInFlight = opts.maxInFlight;
  }

  private more(): ConnSeldom {
    return (this.seldom ??= new ConnSeldom());
  }

  /** Write-stall check (write-stall.ts): see ConnSeldom. */
  get writeWatch(): { sent: number; since: number } | undefined {
    return this.seldom?.writeWatch;
  }

  set writeWatch(watch: { sent: number; since: number } | undefined) {
    if (watch !== undefined || this.seldom !== undefined) this.more().writeWatch = watch;
  }

  /** The server's calls to the other side, once its hello offered to serve them. */
  private get reverse(): ReverseCaller | undefined {
    return this.seldom?.reverse;
  }

  /** One of the state bits above. */
  private is(bit: number): boolean {
    return (this.bits & bit) !== 0;
  }

  private mark(bit: number, on: boolean): void {
    this.bits = on ? this.bits | bit : this.bits & ~bit;
  }

  /** Holds the connection to its kind's limits: set at accept, and again when it becomes a peer. */
  applyRole(role: ConnRole): void {
    this.role = role;
    this.maxInFlight = role.limits.maxInFlightPerConn;
    // A transport that takes the kind's spec refuses an oversized header as it arrives, before the
    // body is held; with any other, each whole frame is checked here.
    // The kind's spec, whose refusal this connection may end with a goodbye (`refusingSpec`).
    if (this.conn.setFrameSpec !== undefined) this.conn.setFrameSpec(this.refusingSpec(role.limits.spec));
    else this.frameCheck = role.limits.check;
    // Its wait is bounded by the server (Probations), whatever it waits for: a certificate or credentials.
    this.mark(PROBATION, role.probation);
    this.maybeResume();
  }

  /**
   * `spec` (the kind's, for requests) as the transport reads by it: a plain object with its own
   * fields, as a transport may copy or wrap a spec (`{ ...spec }`), whose refusal of a request
   * may end with a goodbye (`lastWords`). Made at accept, and again when the connection becomes a
   * peer. Its `bodyLength` is one function for every connection, which finds the connection and
   * the kind's spec in fields of its spec (a closure per connection, and its context, were some
   * 100 bytes more at 10,000 idle connections: docs/benchmarks.md, "Memory").
   */
  private refusingSpec(spec: FrameSpec): RefusingSpec {
    const headerLength = spec.headerLength;
    return spec.outbound === undefined
      ? { headerLength, bodyLength: refusingBodyLength, kind: spec, host: this }
      : { headerLength, bodyLength: refusingBodyLength, outbound: spec.outbound, kind: spec, host: this };
  }

  /**
   * A request refused as it was read (over the kind's limits, another version, an action not
   * UTF-8): the transport writes the error's last words, the answer to its seq, then ends the
   * connection, reading nothing after it. When every call and stream read was answered, no
   * reverse call is out and the client reads goodbyes, a goodbye follows the answer: the calls
   * its client sent behind the refused one never ran, and fail so (Closed, `retry: 'safe'`),
   * not "may have run" (docs/protocol.md, "Limits"). Otherwise the error as it was.
   */
  /** @internal For its spec's `bodyLength` (refusingBodyLength). */
  lastWords(err: unknown): unknown {
    if (!(err instanceof FrameError) || err.lastWords === undefined || !this.is(READS_GOODBYE) || !this.quiet) return err;
    return new FrameError(err.message, withGoodbye(err.lastWords));
  }

  /** Nothing read is still running or unanswered: no call, stream, held request or reverse call out. */
  private get quiet(): boolean {
    return this.inFlight === 0 && this.streams === 0 && this.seldom?.heldRequest === undefined && this.reverse?.busy !== true;
  }

  /** The principal the connection's credentials were accepted as; undefined when it did not authenticate. */
  get principal(): unknown {
    return this.auth?.principal;
  }

  /** Requests being handled, streams open, or reverse calls out: the connection is not idle. */
  get busy(): boolean {
    return this.inFlight > 0 || this.streams > 0 || this.reverse?.busy === true;
  }

  /** Its client answers server pings: it offered them in its hello (a razor v1 client sends none). */
  get answersPings(): boolean {
    return this.is(ANSWERS_PINGS);
  }

  /** A server ping is out and nothing was heard since. */
  get pingOut(): boolean {
    return this.is(PING_OUT);
  }

  /** Asks the client whether it is still there; only one that answers pings, as it would read the frame as garbage otherwise. */
  sendServerPing(now: number): void {
    if (!this.is(ANSWERS_PINGS) || this.is(CLOSED)) return;
    // Not paused for a full buffer: the answer must be read. 20 bytes per keepalive period at most.
    this.conn.write(SERVER_PING_FRAME);
    this.mark(PING_OUT, true);
    this.keepaliveAt = now;
  }

  /** The tick heard from the client (a frame since its last look): any ping out is answered. */
  heardFrom(now: number): void {
    this.framesAtHeard = this.framesRead;
    this.keepaliveAt = now;
    this.mark(PING_OUT, false);
  }

  /** True while the server has stopped reading (requests in flight at the cap, or congestion). */
  get paused(): boolean {
    return this.is(PAUSED);
  }

  get info(): ConnInfo {
    // Built on first use (conn-info.ts): most handlers never look at the connection.
    return (this._info ??= connInfo(this, this.id, this.opts.transport, this.opts.draining));
  }

  /** Its reverse calls, once the hello agreed them (whether it may be called yet: `admittedCaller`). */
  get caller(): ReverseCaller | undefined {
    return this.reverse;
  }

  /**
   * Its reverse calls as handlers and the server's own code get them (ConnInfo.caller): on a
   * server that authenticates, only while its calls are admitted. A peer that has not shown who
   * it is (or whose credentials were refused, or ran out) is not called, as it may not call.
   */
  get admittedCaller(): ReverseCaller | undefined {
    return this.auth === undefined || this.auth.admits ? this.reverse : undefined;
  }

  get logger(): Logger {
    return this.opts.logger;
  }

  /** The server authenticates its clients. */
  get authenticates(): boolean {
    return this.auth !== undefined;
  }

  get onProbation(): boolean {
    return this.is(PROBATION);
  }

  get draining(): boolean {
    return this.is(DRAINING);
  }

  get closed(): boolean {
    return this.is(CLOSED);
  }

  get terms(): Agreed | undefined {
    return this.agreed;
  }

  /** What its hello's answer offers: its kind's (conn-kind.ts), one object per kind. */
  get helloExtensions(): ServerExtensions {
    return this.role?.limits.extensions ?? DEFAULT_SERVER_EXTENSIONS;
  }

  /** What its streams' windows may add up to: its kind's, now (a peer's once it became one). */
  get streamBudgetBytes(): number {
    return this.role?.limits.streamBudgetBytes ?? DEFAULT_STREAM_BUDGET;
  }

  /** Its streams' window: its kind's, now (a peer's once it became one, whatever its hello's answer named). */
  get streamWindowBytes(): number {
    return this.helloExtensions.streamWindowBytes;
  }

  /** Asked once per stream as it opens (never per call): the dispatch's own word on its handler (Dispatch.readsItems). */
  readsItems(req: ServerRequest): boolean {
    try {
      return itemsReadBy(this.opts.dispatch, req.action);
    } catch (err) {
      // A dispatch whose hook throws is taken to read: its stream reserves, as without the hook.
      // Said once per dispatch: a client opening streams on made-up actions must not write a line each.
      if (!THREW_READS_ITEMS.has(this.opts.dispatch)) {
        THREW_READS_ITEMS.add(this.opts.dispatch);
        this.opts.logger.error({ err, action: req.action, remote: this.conn.remote }, 'dispatch.readsItems threw; its streams reserve their windows (said once for this dispatch)');
      }
      return true;
    }
  }

  streamBudgetRefused(): void {
    this.opts.onStreamBudgetRefused(this);
  }

  /**
   * The cap its hello's answer names (kind 24): its kind's, or, while credentials still to come
   * may make it a peer, the larger of both kinds': a named cap under the one it may run at would
   * hold a peer's client to the clients' cap for good (the answer is read once).
   */
  helloCap(credentialsToCome: boolean): number {
    const peers = this.opts.peerMaxInFlight;
    if (!credentialsToCome || peers === undefined || this.role?.limits.kind === 'peer') return this.maxInFlight;
    return Math.max(this.maxInFlight, peers);
  }

  /**
   * The request limits its hello's answer names (kind 26), as `helloCap` names the cap: its kind's,
   * or, while credentials still to come may make it a peer, each the larger of both kinds'
   * (named under a peer's, a peer would be held to a client's sizes for good; a client that stays
   * one and sends past its kind's is refused at the header, and told with a goodbye what did not run).
   */
  helloLimits(credentialsToCome: boolean): Limits {
    const own = this.role!.limits.limits;
    const peers = this.opts.peerLimits;
    if (!credentialsToCome || peers === undefined || this.role?.limits.kind === 'peer') return own;
    return widerLimits(own, peers);
  }

  get sentAway(): boolean {
    return this.is(SENT_AWAY);
  }

  markGreeted(): void {
    this.mark(GREETED, true);
  }

  greeted(credentialsToCome: boolean): void {
    this.opts.onGreeted?.(this, credentialsToCome);
  }

  get reverseSettings(): ReverseSettings | undefined {
    return this.opts.reverse;
  }

  markSentAway(): void {
    this.mark(SENT_AWAY, true);
  }

  /** As Responder's: one LazyAbort per connection, for its plain calls, made when first listened to. */
  get callAbort(): LazyAbort {
    const a = (this.abort ??= new LazyAbort(true));
    if (this.is(CLOSED) || this.is(PEER_ENDED)) a.fire();
    return a;
  }

  /** `heldAt`: given only for the request held past the cap (`runHeld`), when it was read. */
  frame(bytes: Uint8Array, start: number, end: number, heldAt?: number): void {
    // Fields are read where they lie, and a view is made only where the handler needs one: a
    // request costs no header object and no empty views (they add up at a million a second).
    this.framesRead++;
    // Counted, not timed: no clock read per frame. The first of a turn is told the turn's end.
    if (this.turnFrames++ === 0) firstReadOfTurn(this);
    else if (this.turnFrames >= FRAMES_PER_TURN) this.yieldTurn();
    if (this.frameCheck !== undefined) this.checkWhole(this.frameCheck, bytes, start);
    const rawAction = u32(bytes, start + REQ_ACTION_AT);
    const isString = (rawAction & ACTION_STRING_BIT) !== 0;
    const seqLo = u32(bytes, start + SEQ_AT);
    const seqHi = u32(bytes, start + SEQ_AT + 4);
    if (rawAction === PING_ACTION) {
      // Not counted by the drain (drainTick): a client that pings while idle is quiet, however
      // often it pings, or a keepaliveMs under the server's tick would hold close() to closeWaitMs.
      if (this.is(DRAINING)) this.seldom!.framesAtDrainTick++;
      return this.send(seqLo, seqHi, EMPTY_BYTES, EMPTY_BYTES);
    }
    if (rawAction === HELLO_ACTION) return greet(this, bytes, start, seqLo, seqHi);
    if (rawAction >= CANCEL_ACTION && rawAction <= LAST_EXTENSION_ACTION && this.agreed) {
      this.ext ??= new ConnExtensions(this, this.agreed, this.opts.clock ?? systemClock);
      return this.ext.frame(rawAction, bytes, start, end, seqLo, seqHi);
    }
    if (rawAction === AUTH_ACTION && this.auth) {
      if (this.is(SENT_AWAY)) return this.writeError(seqLo, seqHi, ErrorCode.Overloaded);
      const msgAt = start + REQUEST_HEADER_LENGTH;
      return this.auth.present(seqLo, seqHi, bytes, msgAt, msgAt + u32(bytes, start + REQ_MSG_LEN_AT));
    }
    if (rawAction === REVERSE_ANSWER_ACTION && this.reverse) return this.reverse.answer(bytes, start, end, seqLo, seqHi);
    // Heard (framesRead), which is all a pong is for: not a call, so it keeps no connection from idling.
    if (rawAction === SERVER_PONG_ACTION && this.is(ANSWERS_PINGS)) return;
    // Refused unrun and not counted as a call: a peer that only makes refused calls is idle.
    if (this.auth !== undefined && !this.auth.admits) return this.writeError(seqLo, seqHi, ErrorCode.Unauthenticated, this.auth.refusal());
    if (this.is(PROBATION)) return refuseOnProbation(this, seqLo, seqHi);
    this.sawCall = true;
    // Closing: a request that raced the close is refused unrun, so the client may retry it elsewhere.
    if (this.is(DRAINING)) {
      this.mark(AWAIT_PEER, this.is(GREETED));
      this.writeError(seqLo, seqHi, ErrorCode.Closed);
      return this.endIfDone();
    }
    const nameAt = start + REQUEST_HEADER_LENGTH;
    const msgAt = isString ? nameAt + (rawAction & ACTION_LEN_MASK) : nameAt;
    let name = '';
    if (isString) {
      try {
        name = this.opts.actionNames.decode(bytes, nameAt, msgAt);
      } catch {
        throw this.lastWords(new FrameError('action is not valid UTF-8', errorResponseHalves(seqLo, seqHi, ErrorCode.Decode)));
      }
    }
    if (this.atCap()) return this.overCap(bytes, start, end, seqLo, seqHi);
    const msgEnd = msgAt + u32(bytes, start + REQ_MSG_LEN_AT);
    const msg = msgEnd === msgAt ? EMPTY_BYTES : takeBytes(bytes, msgAt, msgEnd);
    const blob = msgEnd === end ? EMPTY_BYTES : takeBytes(bytes, msgEnd, end);
    const req = new ServerRequest(this, seqLo, seqHi, isString ? -1 : rawAction, name, msg, blob);
    this.inFlight++;
    // A call after a head gets its deadline, metadata and signal; one past its deadline is answered here.
    if (this.ext !== undefined && !this.ext.admit(req, seqLo, seqHi, heldAt)) return;
    try {
      this.opts.dispatch.dispatch(req);
    } catch (err) {
      // Answered first: a logger that throws writing the line must not leave the call unanswered.
      req.fail(ErrorCode.Internal);
      this.opts.logger.error({ err, action: req.action, remote: this.conn.remote }, 'dispatch threw');
    }
  }

  /** A whole request checked against the kind's limits (a transport without setFrameSpec): refused as the transport's reader would refuse it. */
  private checkWhole(check: FrameSpec, bytes: Uint8Array, start: number): void {
    try {
      check.bodyLength(bytes, start);
    } catch (err) {
      throw this.lastWords(err);
    }
  }

  drain(): void {
    this.maybeResume();
    // Reverse calls and stream items held back by the full send buffer go now.
    this.reverse?.drained();
    this.ext?.drained();
  }

  /**
   * The client half-closed. A Skein client does that only once nothing is pending, and a peer
   * that drops a connection looks the same from here, so handlers still running are told
   * (their signal aborts); answers they still give are written, then our side ends.
   */
  end(): void {
    this.mark(PEER_ENDED, true);
    // It answers nothing more: a Skein peer ends only once it runs none of our calls. Failed
    // first (see close()).
    this.reverse?.close(new Error('the peer ended the connection'));
    this.abort?.fire();
    // Calls that came with a head have signals of their own: they are told too.
    this.ext?.close(new Error('the peer ended the connection'));
    this.endIfDone();
  }

  close(err?: Error): void {
    if (this.is(CLOSED)) return;
    this.mark(CLOSED, true);
    if (err) {
      const why = err instanceof FrameError ? 'malformed frame' : 'connection error';
      // Bounded by time per kind: strangers may open any number of connections.
      this.opts.violations.say('warn', { remote: this.conn.remote, reason: err.message }, `closing connection: ${why}`, err.message);
    }
    // Reverse calls fail before the calls in are aborted: one made for a call in (its abort
    // source, `{ ctx }` in @skein/api) would otherwise end Cancelled, as if its caller gave up,
    // when it is the connection that went with it out (IO, it may have run).
    this.reverse?.close(err ?? new Error('connection closed'));
    this.abort?.fire();
    this.auth?.close(err ?? new Error('connection closed'));
    this.ext?.close(err ?? new Error('connection closed'));
    this.opts.onClosed(this);
  }

  /** Graceful close: stop reading new requests, finish those in flight, then end. */
  startDrain(awaitPeer = this.is(GREETED) && (this.inFlight > 0 || this.sawCall)): void {
    // Made first: a ping read from now on is counted there (`frame`).
    const seldom = this.more();
    this.mark(DRAINING, true);
    this.refuseHeld(ErrorCode.Closed);
    // Read on: open streams wait for their credit and end frames, handlers for cancels, and the
    // peer's close must be seen (requests read now are refused, unrun, with Closed).
    this.maybeResume();
    this.stopReverseCalls();
    this.mark(AWAIT_PEER, awaitPeer);
    seldom.framesAtDrainTick = this.framesRead;
    this.endIfDone();
  }

  /**
   * The server began to close (at `close()`, before its listeners have): a reverse call made
   * from now on is refused at once, unsent (Closed), as the peer is being left, but for one made
   * for a request of it still running (its `abortSource`: the drain waits for it); those out or
   * waiting for the window still go and are answered within the drain.
   */
  private stopReverseCalls(): void {
    this.mark(NO_REVERSE, true);
    this.reverse?.drain();
  }

  /** The server's tick: a draining connection that read nothing since the last one is quiet. */
  drainTick(): void {
    if (!this.is(DRAINING)) return;
    const seldom = this.seldom!;
    if (this.framesRead === seldom.framesAtDrainTick) {
      this.mark(AWAIT_PEER, false);
      this.endIfDone();
    }
    seldom.framesAtDrainTick = this.framesRead;
  }

  forceClose(): void {
    this.conn.close();
  }

  recentHeadStrings(): RecentStrings {
    return (this.headStrings ??= new RecentStrings());
  }

  /**
   * A stream opened: it stops counting against `maxInFlight`, because reading must go on for its
   * credit and cancel frames (a paused connection would hold every stream on it). Streams have a
   * cap of their own, the same number; false past it.
   */
  streamOpened(): boolean {
    if (this.streams >= this.maxInFlight) return false;
    this.streams++;
    this.inFlight--;
    this.maybeResume();
    return true;
  }

  /** A stream is being answered: it counts again, for the answer's `settled()`. */
  streamClosed(): void {
    this.streams--;
    this.inFlight++;
  }

  observerDropped(err: unknown): void {
    this.opts.logger.warn({ remote: this.conn.remote, err }, OBSERVER_DROPPED);
  }

  /**
   * A call abandoned while its handler runs: counted until the handler ends (see
   * ConnExtensions.abandoned), when the dispatch says when that is, for this request (one over
   * several, dispatchByService, tells for some and not for others).
   */
  abandonedRunning(req: ServerRequest): boolean {
    if (!handlerEndToldBy(this.opts.dispatch, req)) return false;
    // Made here if none yet: plain calls (no head) never made it, and the server's own handler
    // timeout abandons those too, a razor v1 peer's included: one that skips its hello must not
    // thereby run any number of handlers at once (the state is made only once one runs abandoned).
    (this.ext ??= new ConnExtensions(this, this.agreed ?? NONE_AGREED, this.opts.clock ?? systemClock)).abandoned++;
    return true;
  }

  abandonedEnded(): void {
    const ext = this.ext!;
    ext.abandoned--;
    // Its last abandoned handler ended with nothing else there: the state goes (some 900 bytes,
    // else kept for the connection's life, on one that never sent an extension frame too).
    if (ext.abandoned === 0 && ext.release()) this.ext = undefined;
    this.maybeResume();
  }

  /**
   * Requests past this wait (overCap): `maxInFlight` being handled, or twice that many handlers
   * running, those of abandoned calls included (their slots are free, their handlers may not be),
   * and those of open streams (not in `inFlight`, but running all the same).
   */
  private atCap(): boolean {
    return this.inFlight >= this.maxInFlight || (this.ext !== undefined && this.inFlight + this.streams + this.ext.abandoned >= 2 * this.maxInFlight);
  }

  /** Called once per answered request. */
  settled(): void {
    this.inFlight--;
    this.maybeResume();
    this.endIfDone();
  }

  writeOk(seqLo: number, seqHi: number, msg: Uint8Array, blob: Uint8Array): boolean {
    const limits = this.peerLimits;
    if (msg.length > limits.maxMessage || blob.length > limits.maxBlob || msg.length + blob.length > (limits.maxBody ?? Infinity)) return false;
    this.send(seqLo, seqHi, msg, blob);
    return true;
  }

  writeError(seqLo: number, seqHi: number, code: ErrorCode, detail?: string): void {
    if (this.is(CLOSED)) return;
    let response = errorResponseHalves(seqLo, seqHi, code, detail);
    // A detail the client cannot take is cut to fit, never dropped: a bare Overloaded or Closed
    // would tell it that a handler which ran never did.
    if (detail && response.length - RESPONSE_HEADER_LENGTH > this.peerLimits.maxError) {
      response = errorResponseHalves(seqLo, seqHi, code, fittedDetail(CODE_INFO[code].wire, detail, this.peerLimits.maxError));
    }
    this.sendWhole(response);
  }

  writeRoomRefusal(seqLo: number, seqHi: number, cap: StreamRoomCap): void {
    if (!this.is(CLOSED)) this.sendWhole(roomRefusalResponseHalves(seqLo, seqHi, cap));
  }

  writeCustomError(seqLo: number, seqHi: number, payload: ErrorPayload): boolean {
    if (this.is(CLOSED)) return true;
    const response = customErrorResponseHalves(seqLo, seqHi, payload);
    if (response.length - RESPONSE_HEADER_LENGTH > this.peerLimits.maxError) return false;
    this.sendWhole(response);
    return true;
  }

  writeTooLarge(seqLo: number, seqHi: number, detail: string): void {
    this.opts.logger.warn({ remote: this.conn.remote, reason: detail }, 'reply over the client\'s limits: failing its call');
    this.writeError(seqLo, seqHi, ErrorCode.FrameTooLarge, detail);
  }

  /**
   * Bare, as the connection's other Internal answers (a Dispatch that threw): a detail after a
   * razor code reads as a custom error to a razor peer, and the connection has no
   * `exposeInternalErrors` of its own. The log says what the handler gave.
   */
  writeRefused(seqLo: number, seqHi: number, action: string | number, why: string): void {
    this.opts.logger.error({ action, remote: this.conn.remote, reason: why }, `${actionName(action)}: ${why}; the call failed Internal`);
    this.writeError(seqLo, seqHi, ErrorCode.Internal);
  }

  /** An ok response, unchecked: the limits are the caller's business (a pong and the hello's answer always fit). */
  private send(seqLo: number, seqHi: number, msg: Uint8Array, blob: Uint8Array): void {
    if (this.is(CLOSED)) return;
    // One header buffer for every connection: the transport copies parts this small at once.
    writeResponseHeaderHalves(OK_HEADER, ResponseFlag.Ok, msg.length, seqLo, seqHi, blob.length);
    this.conn.write(OK_HEADER);
    // Empty parts are skipped: a ping's answer and most replies have no blob, and each write is a call into the transport.
    if (msg.length !== 0) this.conn.write(msg);
    if (blob.length !== 0) this.conn.write(blob);
    if (this.conn.congested) this.pause();
  }

  /** A whole prebuilt response (an error): it fills the send buffer like any other, so it counts for the pause. */
  private sendWhole(response: Uint8Array): void {
    this.conn.write(response);
    if (this.conn.congested) this.pause();
  }

  /** What its hello says (conn-hello.ts): the limits replies are held to, and the extensions, which the first hello that agrees any settles. */
  takeTerms(outcome: HelloOutcome): void {
    if (outcome.peerLimits) {
      this.peerLimits = sharedLimits(outcome.peerLimits);
      // Replies each within it may still leave together (a WebSocket message holds a batch of them): the batch is held within it too.
      const maxFrame = outcome.peerLimits.maxFrame;
      if (maxFrame !== undefined) this.conn.setPeerMaxFrameBytes?.(maxFrame);
    }
    if (outcome.agreed && this.agreed === undefined) {
      this.agreed = sharedAgreed(outcome.agreed);
      // A state made before (abandonedRunning, on a peer's calls before its hello) takes these terms.
      this.ext?.agree(this.agreed);
    }
  }

  /** Server pings and the goodbye, as its hello's answer agrees them (conn-hello.ts): sent to no connection whose hello was refused. */
  agreeControls(outcome: HelloOutcome): void {
    if (outcome.pings) this.mark(ANSWERS_PINGS, true);
    if (outcome.goodbye) this.mark(READS_GOODBYE, true);
    if (outcome.replyMetadata) {
      this.mark(READS_REPLY_METADATA, true);
      this.replyMetadataAsked = outcome.replyMetadataMax;
    }
  }

  /** Responder's: the bound of a reply head for this client (as its offer named it), within its reply limits; 0 when its hello did not agree them. */
  replyMetadataRoom(): number {
    return this.is(READS_REPLY_METADATA) ? replyMetadataBound(this.peerLimits.maxMessage, this.replyMetadataAsked) : 0;
  }

  /** Responder's: a reply head, just before its call's answer (both in this turn's batch, in that order). */
  writeReplyMetadata(seqLo: number, seqHi: number, head: Uint8Array): void {
    if (this.is(CLOSED)) return;
    this.sendWhole(replyMetadataFrame(seqLo, seqHi, head));
  }

  reverseAgreed(caller: ReverseCaller): void {
    this.more().reverse = caller;
    if (this.is(NO_REVERSE)) caller.drain();
  }

  sendAnswer(seqLo: number, seqHi: number, msg: Uint8Array): void {
    this.send(seqLo, seqHi, msg, EMPTY_BYTES);
  }

  /**
   * A request while `maxInFlight` are being handled. A client whose window is no larger than the
   * cap sends one only once some of its calls timed out on its side while they still run here, so
   * the connection is read on at the cap for all else it sends (pings, cancels, stream credit, the
   * answers of reverse calls): stopping there would leave a client's keepalive ping unanswered
   * under long calls, and it would drop the connection. A request past the cap is held (a copy of
   * its one frame: bytes received), and the connection is not read until a slot frees: so at most
   * one is ever held, and nothing read can come between it and its head. While reverse calls await
   * their answers it is refused instead, unrun (Overloaded): stopping would leave those answers
   * unread under handlers that may wait for them. (A refused request's head is dropped by the next
   * head or request, as ConnExtensions drops any head its request does not follow.)
   */
  private overCap(bytes: Uint8Array, start: number, end: number, seqLo: number, seqHi: number): void {
    if (this.seldom?.heldRequest !== undefined || this.reverse?.awaitingAnswers) return this.writeError(seqLo, seqHi, ErrorCode.Overloaded);
    const seldom = this.more();
    seldom.heldRequest = bytes.slice(start, end);
    // A clock read on this rare path only: the time it waits here is its client's, not extra.
    seldom.heldAt = (this.opts.clock ?? systemClock).now();
    this.pause();
  }

  /** A request held past the cap gives up its place, unrun: `code` says why (Closed when closing, Overloaded for reverse answers to read). */
  private refuseHeld(code: ErrorCode): void {
    const seldom = this.seldom;
    const held = seldom?.heldRequest;
    if (held === undefined) return;
    seldom!.heldRequest = seldom!.heldAt = undefined;
    this.writeError(u32(held, SEQ_AT), u32(held, SEQ_AT + 4), code);
  }

  /** Still on probation twice authTimeoutMs after it began: closed (conn-probation.ts). */
  probationOver(): void {
    probationTimedOut(this);
  }

  private authWire(): AuthWire {
    return {
      info: this.info,
      draining: this.opts.draining,
      ok: (seqLo, seqHi, msg) => {
        // Judged before the grant goes: one on probation that they do not make a peer is answered why, in its place.
        const refusal = this.opts.onCredentialsAccepted?.(this);
        if (refusal !== undefined) return sendAway(this, seqLo, seqHi, refusal);
        this.send(seqLo, seqHi, msg, EMPTY_BYTES);
      },
      error: (seqLo, seqHi, code, detail) => this.writeError(seqLo, seqHi, code, detail),
      end: () => this.conn.end(),
      close: () => this.conn.close(),
    };
  }

  private pause(): void {
    if (this.is(PAUSED)) return;
    this.mark(PAUSED, true);
    this.conn.pause();
  }

  /**
   * This turn's frames are read: the reader stops after this one (FrameConn: a frame handler that
   * pauses), and the turn's end reads on. Meanwhile the replies of what was read reach the send
   * buffer, where a full one pauses the connection for good until it drains (`send`).
   */
  private yieldTurn(): void {
    this.mark(YIELDED, true);
    this.pause();
  }

  /** The turn is over (read-turns.ts): it counts afresh, and reads on if it yielded and nothing else holds it. */
  turnOver(): void {
    this.turnFrames = 0;
    if (!this.is(YIELDED)) return;
    this.mark(YIELDED, false);
    this.maybeResume();
  }

  /**
   * FrameHandlers.overHeld: the socket reads on while paused (uWS), and what arrived meanwhile is
   * over the transport's budget. A yield gives way by one more turn's frames, read now: it only
   * shares the event loop, and a peer pipelining its window did nothing wrong (dropped for it, a
   * client's every call failed "may have run"). Not the rest of the turn: a peer that sends faster
   * than that would have this connection read all it sends in one macrotask, every turn. Each
   * arrival over the budget gives one more, and the transport drops a peer whose held bytes still
   * reach twice the budget. A pause for backpressure (the cap, congestion) stays, and the transport
   * drops the peer (1013): that bound on what a peer that keeps sending makes this side hold is unchanged.
   */
  overHeld(): void {
    if (!this.is(YIELDED)) return;
    // 1, not 0: it is in this turn's list of readers already (read-turns.ts), once.
    this.turnFrames = 1;
    this.mark(YIELDED, false);
    this.maybeResume();
  }


  private maybeResume(): void {
    if ((this.bits & (CLOSED | YIELDED)) !== 0 || this.conn.congested) return;
    if (this.seldom?.heldRequest !== undefined) {
      if (!this.atCap()) this.runHeld();
      // A reverse call went out while a request was held: its answer must be read, so the held
      // request gives up its place (Overloaded: it never ran) and reading goes on (see overCap).
      else if (this.reverse?.awaitingAnswers === true) this.refuseHeld(ErrorCode.Overloaded);
      else return;
      if (this.is(CLOSED) || this.conn.congested || this.seldom?.heldRequest !== undefined) return;
    }
    if (!this.is(PAUSED)) return;
    this.mark(PAUSED, false);
    this.conn.resume();
  }

  /** The request held past the cap, now that a slot is free: read as it would have been, with its head. */
  private runHeld(): void {
    const seldom = this.seldom!;
    const held = seldom.heldRequest!;
    const heldAt = seldom.heldAt;
    seldom.heldRequest = seldom.heldAt = undefined;
    try {
      this.frame(held, 0, held.length, heldAt);
    } catch (err) {
      // Only a limit narrowed meanwhile (the connection's kind changed) fails a frame read once
      // before: the peer's connection ends, as the reader ends it for a frame it refuses.
      this.opts.logger.warn({ err, remote: this.conn.remote }, 'a request held past the cap was refused when read again; closing the connection');
      this.conn.close();
    }
  }

  /** A reverse call went out (ConnReverseHost): the connection is in use, as with a call in. */
  reverseAwaiting(): void {
    this.sawCall = true;
    this.maybeResume();
  }

  /** Ends the connection once closing and nothing is left to wait for. */
  endIfDone(): void {
    // Closing, and the peer ended its side: a Skein client ends only once it awaits nothing, or
    // when it is destroyed, so nobody reads what handlers still running would answer, and the
    // server's close does not wait for them (closeWaitMs is for answers someone waits for); the
    // connection's close aborts their signals and drops their answers.
    if (this.is(DRAINING) && this.is(PEER_ENDED) && !this.is(CLOSED)) return this.conn.end();
    // Open streams are not in `inFlight` but are waited for as calls are.
    if (((this.is(DRAINING) && !this.is(AWAIT_PEER)) || this.is(PEER_ENDED)) && this.inFlight === 0 && this.streams === 0 && !this.is(CLOSED) && !this.reverse?.busy) {
      // Every call read was answered (or cancelled by its client), and a draining connection runs
      // nothing it reads from now on: a client that reads the goodbye knows that the calls it
      // still awaits never ran, though it sent them (they were on their way), and a pool sends
      // them on elsewhere. (A peer that ended its side was left above: it reads nothing more.)
      if (this.is(DRAINING) && this.is(READS_GOODBYE)) this.conn.write(GOODBYE_FRAME);
      this.conn.end();
    }
  }
}

