import {
  EMPTY_BYTES,
  ErrorCode,
  FrameError,
  RemoteError,
  RpcError,
  SMALL_PART,
  fromDownstream,
  takeBytes,
  invalidArgument,
  parseAddress,
  silentLogger,
  guardedLogger,
  systemClock,
  connectAborted,
  formatAddress,
  whenAborted,
  withoutStack,
  type Address,
  type Clock,
  type FrameConn,
  type Logger,
} from '@skein/core';
import { Call, sourceDeadline, type Notify, type Reply } from './call.js';
import { notifyGuarded, type CallbackHost } from '../internals/notify-guarded.js';
import { abortedAlready, cancellable, hookAbort } from './call-abort.js';
import { readErrorBytes } from '../wire/error-strings.js';
import { responseFrameSpec } from '../wire/frame-specs.js';
import { strangerPeer } from './stranger-peer.js';
import { overFrameLimit, preAnswerRoomFor } from './frame-limit.js';
import type { Limits } from '../wire/limits.js';
import {
  HELLO_ACTION,
  PING_ACTION,
  REQUEST_HEADER_LENGTH,
  RES_FLAG_AT,
  RES_MSG_LEN_AT,
  RESPONSE_HEADER_LENGTH,
  ResponseFlag,
  SEQ_AT,
  readSeq,
  putU32,
  u32,
  writeRequestHeader,
} from '../wire/protocol.js';
import type { CallOptions } from './call-options.js';
import { promised, type StreamCaller } from './caller.js';
import { resolveStreamOptions, type ClientStreamOptions, type StreamSettings } from './options.js';
import { Throttler } from './throttler.js';
import { DeadlineWheel } from './deadline-wheel.js';
import { TickClock } from '../internals/tick-clock.js';
import { callTimeout, metadataRefusal } from '../internals/checks.js';
import { ClientHello, type PeerDialect } from './hello.js';
import { HELLO_SEQ } from '../wire/hello.js';
import { SERVER_PING_FLAG, SERVER_PINGS_KIND, SERVER_PONG_FRAME } from '../wire/server-pings.js';
import { GOODBYE_FLAG, GOODBYE_KIND } from '../wire/goodbye.js';
import { REPLY_METADATA_FLAG } from '../wire/reply-metadata.js';
import { readReplyMetadata } from './reply-metadata-read.js';
import { brokeProtocol, frameAfterGoodbye, notAgreed } from './broken-control-frames.js';
import { CANCEL_ACTION, END_ACTION, HEAD_ACTION, OPEN_ACTION } from '../wire/extension-frames.js';
import { CallHeadError, encodeCallHead, wireRemaining } from '../wire/call-head.js';
import type { StreamCall } from './stream-call.js';
import { ConnStreams, type StreamsHost } from './conn-streams.js';
import { Keepalive, type KeepaliveLink } from './keepalive.js';
import { AUTH_ACTION } from '../wire/auth.js';
import { AUTH_WAIT_MS, ClientAuth, type AuthLink } from './client-auth.js';
import { fetchCredentials, fetchedWithin, type Credentials } from './credentials.js';
import { ReverseDispatch, type ReverseLink as ReverseLinkOf } from './reverse-dispatch.js';
import { isReverseFrame } from '../wire/reverse-control.js';
import { SeqTable } from '../internals/seq-table.js';
import { WaitingLine } from '../internals/waiting-line.js';
import { PumpSoon } from '../internals/pump-soon.js';
import { markUnanswered } from '../internals/unanswered-mark.js';
import { markRefusedUnsent } from '../internals/unsent-refusal-mark.js';
import { refusedForRoom, roomRefusal } from './room-refusal.js';

export type StreamState = 'open' | 'closing' | 'closed';

const utf8 = new TextEncoder();

/**
 * One multiplexed connection: calls are sent in order with a `seq` each, at most `window` in
 * flight, and matched to replies by seq in whatever order the server answers.
 *
 * Here are the call's path and the connection's state. What no call's path runs lives beside
 * it, made once per connection and told what it needs through a link: the streams
 * (ConnStreams), liveness and pings (Keepalive), credentials (ClientAuth), and the server's
 * calls it serves (ReverseDispatch).
 */
export class ClientStream implements StreamCaller {
  readonly address: Address;
  readonly remote: string;
  private readonly limits: Limits;
  /**
   * What a request is checked against before it is written: `limits`, each lowered to the
   * server's once its hello's answer names them (kind 26), so that a request it would refuse at its
   * header, closing the connection, is refused here unsent. A field read per call: a compare.
   */
  private sendLimits: Limits;
  /**
   * The largest request frame the server's transport carries, once its hello's answer names it
   * (kind 26's max_frame); Infinity where it names none. 0 until the answer is in, so that every
   * frame meanwhile takes the slow path (`frameOver`), which holds them within PRE_ANSWER_BYTES:
   * the one compare a call made after the answer costs, as before.
   */
  private maxFrame = 0;
  /**
   * What is left of PRE_ANSWER_BYTES for the calls sent before the hello's answer (`frameOver`):
   * where the transport packs frames into one message, less what shares it (`preAnswerRoomFor`).
   */
  private preAnswerRoom: number;
  private readonly throttler: Throttler;
  private readonly pending = new SeqTable<Call>();
  private readonly actions = new Map<string, Uint8Array>();
  private readonly header = new Uint8Array(REQUEST_HEADER_LENGTH);
  /** Ticked time, for deadlines; its ticker also paces keepalive. */
  private readonly pace: TickClock;
  /** Every accepted call not settled yet (waiting or on the wire), by deadline. */
  private readonly deadlines: DeadlineWheel;
  private readonly defaultTimeoutMs: number;
  private nextSeq = 1;
  /** The ping out and the peer's liveness, looked at once a tick. */
  private readonly keepalive: Keepalive;
  /** When `close()` ended our side of the connection (-1: not yet): the peer's close is awaited from then. */
  private endedAt = -1;
  /** `ping()` callers waiting for the pong. */
  private pongWaiters: { resolve(): void; reject(err: Error): void }[] = [];
  /** A frame arrived since the last tick; read and cleared per tick instead of reading the clock per frame. */
  private received = false;
  /** Refills the window a microtask after an abort freed a slot. */
  private readonly soon = new PumpSoon(() => {
    if (this._state !== 'closed') this.pump();
  });
  private _state: StreamState = 'open';
  /**
   * The server answered a call with a bare Closed: it is draining (a graceful close or restart)
   * and refuses what it has not started (a handler passing on a downstream's Closed does not
   * count: that one carries a detail). A pool stops sending here and opens a fresh connection.
   */
  peerClosing = false;
  /**
   * The server said goodbye (wire/goodbye.ts): it ran nothing of ours it had not answered, and
   * runs nothing it reads from now on, so the calls still unanswered when the connection ends
   * never ran.
   */
  private saidGoodbye = false;
  /**
   * @internal Told when the window has room after its own waiting calls went, and when a stream
   * left (room under the server's cap on open streams, `streamRoom`): a pool's calls and streams
   * that wait for room on any of its connections go then (ConnPool). Unset, it costs a read.
   */
  onRoom: (() => void) | undefined = undefined;
  /**
   * The streams open when the server last refused one for room on this connection alone
   * (`refusedForRoom`: its `streamBudgetBytes`, its cap on open streams), which the hello's answer
   * does not name. Infinity once one of them left, or one of its streams sent its END (the server
   * then holds of its budget only what that stream has unread: `sentEnd`).
   */
  private streamsRefusedAt = Infinity;
  private closeError: Error | undefined;
  /** Why the server sent this connection away, when its hello's answer said (ClientHello.refusal): what the stream closes with. */
  private refusal: RpcError | undefined = undefined;
  private readonly closedWaiters: ((err: Error | undefined) => void)[] = [];
  private readonly onClose: ((err: Error | undefined) => void) | undefined;
  /**
   * Calls with a head (a deadline, a signal, metadata), waiting for the hello's answer; counted
   * in the window. One that ends meanwhile leaves the count at once and the line lazily (a
   * stalled server may answer late).
   */
  private readonly held = new WaitingLine<Call>();
  /** Open streams by seq: a SeqTable, not a Map, as `pending` (a set and a delete per stream). */
  private readonly streams = new SeqTable<StreamCall>();
  /** Streams waiting for the hello's answer before they may open, each with its opening; one cancelled meanwhile leaves at once. */
  private readonly opening = new Map<StreamCall, () => void>();
  /** What opens, writes and reads the streams (the two tables above are theirs to change). */
  private readonly streaming: ConnStreams;
  /** A head's remaining time and nothing else: written from here, no buffer per call. */
  private readonly headBytes = new Uint8Array(4);
  /** @internal What the peer speaks beyond razor v1, as its answer to our hello says. */
  readonly hello: ClientHello;
  /** The credentials' renewals, when the stream presents credentials. */
  private readonly auth: ClientAuth | undefined;
  /** Runs the server's calls, when the stream serves (`serve`); the hello's answer says whether it may. */
  private readonly serving: ReverseDispatch | undefined;

  /** Where a caller's callback that threw is logged (`notifyGuarded`): one for the stream, none per call. */
  private readonly callbacks: CallbackHost;

  private constructor(
    private readonly conn: FrameConn,
    private readonly clock: Clock,
    private readonly logger: Logger,
    address: Address,
    settings: StreamSettings,
    onClose: ClientStreamOptions['onClose'],
    credentials?: { readonly source: Credentials; readonly bytes: Uint8Array },
    transportName = '',
  ) {
    this.address = address;
    this.remote = conn.remote;
    this.callbacks = { logger, remote: conn.remote };
    this.limits = this.sendLimits = settings.limits;
    this.throttler = new Throttler(settings.window, settings.maxQueued);
    this.defaultTimeoutMs = settings.timeoutMs;
    this.onClose = onClose;
    this.pace = new TickClock(clock, settings.tickMs, settings.timeoutMs, (now) => this.tick(now));
    this.deadlines = new DeadlineWheel(this.pace.finest);
    this.keepalive = new Keepalive(settings.keepaliveMs, settings.keepaliveTimeoutMs, clock, logger, this.keepaliveLink());
    // First on the wire, unanswered yet when the first call follows: it costs no round trip.
    this.serving = settings.serve && new ReverseDispatch(this.reverseLink(transportName), settings.serve, settings.limits.maxAction, logger, clock);
    this.hello = new ClientHello(settings.limits, settings.streamWindowBytes, credentials !== undefined, this.serving ? this.serving.offers : [], conn.maxFrameBytes, conn.setPeerMaxFrameBytes !== undefined);
    this.streaming = new ConnStreams(this.streamsHost(), conn, settings.limits, settings.streamWindowBytes, this.streams, this.opening);
    this.auth = credentials && new ClientAuth(credentials.source, clock, logger, this.authLink());
    this.preAnswerRoom = preAnswerRoomFor(this.hello.request, conn.setPeerMaxFrameBytes !== undefined);
    // Bound once the stream's parts are made: a connection closed already (a uWS server at a cap refuses
    // after the upgrade, and its close may come as the handlers are bound) shuts the stream down
    // at once, which reaches every part of it (the hello's waiters, registered below, are then
    // never told, and its write goes nowhere); half made, that threw a TypeError out of connect
    // and left its ticker running.
    conn.bind({
      frame: (bytes, start, end) => this.onFrame(bytes, start, end),
      drain: () => {
        this.streaming.drained();
        this.serving?.drained();
      },
      close: (err) => this.onClosed(err),
    });
    // First: from here a frame is held to the server's cap alone (`frameOver`), and what waits for
    // the answer of a server that refused the connection goes nowhere. (One waiter for both: a
    // connection keeps its waiters until the answer comes.)
    this.hello.whenKnown(() => {
      this.maxFrame = this.hello.serverLimits?.maxFrame ?? Infinity;
      this.refusedByServer();
    });
    // Before the held calls go: past the server's cap it would hold one and stop reading (keepalive
    // pings too), and one over the server's limits would cost the connection (one waiter for both:
    // a connection keeps its waiters until the answer comes).
    this.hello.whenKnown(() => {
      this.throttler.narrow(this.hello.maxInFlight);
      this.throttler.release();
      this.takeServerLimits();
    });
    // Calls with a head wait for the answer (a v1 peer must never see one): here they go on.
    this.hello.whenKnown(() => this.releaseHeld());
    // Reverse calls are read only if the server agreed them.
    if (this.serving) this.hello.whenKnown(() => this.serving!.agree(this.hello.answerEntries));
    this.hello.whenKnown(() => this.streaming.openWaiting());
    if (this.hello.request) {
      conn.write(this.hello.request);
      // The first calls, made as the connect resolves, leave in the same socket write: a server
      // at its connection cap answers the hello unread and closes, and once its reset is back a
      // second write fails (EPIPE) and ends the connection before the answer saying why is read.
      conn.deferFlush?.();
    }
  }

  /**
   * Connects and returns a ready stream. Fails with Unreachable when the peer cannot be reached.
   * An abort of `signal` before it resolves gives it up at once (Cancelled, core's
   * `connectAborted`), wherever it is (the transport's connect, a TLS handshake, the credentials),
   * and closes what it opened; once it resolved, the signal changes nothing.
   */
  static async connect(opts: ClientStreamOptions, signal?: AbortSignal): Promise<ClientStream> {
    const address = parseAddress(opts.address);
    // Checked before connecting: a bad option must not leave a connection open that nobody closes.
    const settings = resolveStreamOptions(opts);
    // Fetched while connecting, within the connect's budget; a connection whose credentials could not be had is closed unused.
    const source = opts.credentials;
    const fetching = source === undefined ? undefined : fetchedWithin(fetchCredentials(source), opts.connectTimeoutMs ?? AUTH_WAIT_MS, opts.clock ?? systemClock);
    fetching?.bytes.catch(() => {});
    let conn;
    try {
      // The logger given, for what the transport says of the client (a client certificate's expiry,
      // docs/tls.md); the silent one is a pool's stand-in for none: the transport's own stands in then.
      const logger = opts.logger === silentLogger ? undefined : opts.logger;
      conn = await opts.transport.connect(address, responseFrameSpec(settings.limits, settings.serve !== undefined), { timeoutMs: opts.connectTimeoutMs, ...(signal && { signal }), ...(logger && { logger }) });
    } catch (err) {
      fetching?.stop();
      throw err;
    }
    let credentials;
    if (source !== undefined) {
      try {
        // Raced with the abort: a credentials function that hangs must not hold the connect (nor a pool's close).
        credentials = { source, bytes: await untilAborted(fetching!.bytes, signal, address) };
      } catch (err) {
        fetching!.stop();
        conn.close();
        throw err;
      }
    }
    // Aborted while the credentials came (or as the transport's connect resolved): nobody takes this connection.
    if (signal?.aborted) {
      conn.close();
      throw connectAborted(formatAddress(address), signal.reason);
    }
    // Its lines come on the way to answers (a reverse call whose dispatch threw) and closes: one it cannot write must not stop those.
    const stream = new ClientStream(conn, opts.clock ?? systemClock, guardedLogger(opts.logger ?? silentLogger), address, settings, opts.onClose, credentials, opts.transport.name);
    if (credentials) await ClientStream.presented(stream, credentials.bytes, opts.connectTimeoutMs, signal);
    return stream;
  }

  /** The credentials' verdict at connect; an abort of `signal` meanwhile destroys the stream and rejects Cancelled. */
  private static async presented(stream: ClientStream, credentials: Uint8Array, timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    const unhook = whenAborted(signal, () => stream.destroy('connect aborted'));
    try {
      await stream.auth!.atConnect(stream.hello, credentials, timeoutMs);
      // Aborted after the verdict came but before this resumed: the hook destroyed the stream.
      if (signal?.aborted) throw connectAborted(stream.remote, signal.reason);
    } catch (err) {
      throw signal?.aborted ? connectAborted(stream.remote, signal.reason) : err;
    } finally {
      unhook();
    }
  }

  /**
   * Presents fresh credentials (the `credentials` option is called again) on this live
   * connection; resolves when the server accepts them. Calls keep going meanwhile. The stream
   * does this by itself before the server's grant runs out (docs/auth.md). Given `credentials`,
   * they replace the option: presented now, and at every later renewal.
   */
  renewCredentials(credentials?: Credentials): Promise<void> {
    if (!this.auth) return Promise.reject(new RpcError(ErrorCode.Unauthenticated, `no credentials on the stream to ${this.remote}: nothing to renew`));
    return this.auth.renew(credentials);
  }

  /** See `Caller.timeoutMs`: the `timeoutMs` it was connected with (20 s by default). */
  get timeoutMs(): number {
    return this.defaultTimeoutMs;
  }

  get state(): StreamState {
    return this._state;
  }

  /**
   * What the server speaks, as its answer to this connection's hello says: `'pending'` until it
   * comes, `'v1'` (a razor v1 or older server: plain frames, no deadlines, metadata or streams
   * reach it), `'agreed'` (Skein's extensions, as far as the answer agreed them). Past `'pending'`,
   * the server has spoken the protocol on this connection, but for a client that sends no hello
   * (its `limits` under 1 KiB): `'v1'` from the start, nothing heard.
   */
  get dialect(): PeerDialect {
    return this.hello.dialect;
  }

  /** Calls on the wire awaiting a reply. */
  get inFlight(): number {
    return this.throttler.inFlight;
  }

  /** Streams open or opening (waiting for the hello's answer): not in `inFlight`, as they take no window slot. */
  get openStreams(): number {
    return this.streams.size + this.opening.size;
  }

  /**
   * Streams the server still takes on this connection: the cap its hello's answer named
   * (`maxInFlightPerConn`, which bounds its open streams too, past it refused Overloaded) less
   * `openStreams`; Infinity while no answer named one (an older server, or none yet). A pool
   * opens a stream on another connection at 0.
   */
  get streamRoom(): number {
    const open = this.openStreams;
    // The server refused a stream at this many open (its stream budget, or another cap on this
    // connection alone): no room until one of them leaves (`streamsRefusedAt`).
    if (open >= this.streamsRefusedAt) return 0;
    const cap = this.hello.maxInFlight;
    return cap === undefined ? Infinity : cap - open;
  }

  /** Calls waiting for room in the window. */
  get queued(): number {
    return this.throttler.queued;
  }

  get window(): number {
    return this.throttler.window;
  }

  /** Sends a call and resolves with its reply. */
  call(action: string | number, msg: Uint8Array = EMPTY_BYTES, opts: CallOptions = {}): Promise<Reply> {
    return promised(this, action, msg, opts);
  }

  /**
   * Sends a call and reports its outcome through `notify`: the path for code that wants no
   * promise per call. Bad arguments are reported through `notify` too, before anything is sent.
   */
  send(action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify): void {
    this.accept(action, msg, opts, notify, undefined);
  }

  /**
   * @internal `send`, bounded here by `boundMs` in place of its timeout: what a pool left of the
   * call's time after it waited for a connection. Not the caller's timeout: the call carries a
   * deadline only if `opts.timeoutMs` is set (then `boundMs` is what is left of it), so a call
   * goes the same way whether it waited or not. `opts.timeoutMs` was checked by the pool.
   */
  sendWithin(action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify, boundMs: number): void {
    this.accept(action, msg, opts, notify, boundMs);
  }

  /**
   * @internal `sendWithin` past `maxQueued`: a call the pool accepted under its own bound and
   * hands over at its graceful close (its queue's calls move here, they are not new): refused
   * for this connection's bound, a call already taken would fail at the close that promised to
   * send it. Held memory does not grow: the pool lets go of each call it hands over.
   */
  sendAccepted(action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify, boundMs: number): void {
    this.accept(action, msg, opts, notify, boundMs, true);
  }

  private accept(action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify, boundMs: number | undefined, accepted = false): void {
    const blob = opts.blob ?? EMPTY_BYTES;
    let wireAction: number | Uint8Array;
    let timeoutMs: number;
    try {
      wireAction = this.checkCall(action, msg, blob);
      if (opts.onReplyMetadata !== undefined && typeof opts.onReplyMetadata !== 'function') throw invalidArgument('onReplyMetadata must be a function');
      // A pool's bound is what is left of its deadline by the clock: whole ms, as callTimeout's.
      timeoutMs = boundMs !== undefined ? Math.ceil(boundMs) : callTimeout(opts.timeoutMs, this.defaultTimeoutMs);
    } catch (err) {
      // About this call (its action, size, timeout), not a request a handler answers (RpcError.downstream);
      // refused unsent, it says nothing of the server (a FailoverPool's breaker does not count it).
      return this.refuse(action, notify, fromDownstream(markRefusedUnsent(err as RpcError)));
    }
    // The grant's end is checked here too, not only when its alarm fires (late, after a long synchronous burst): closing, the call fails Closed, unsent.
    this.auth?.ranOut();
    if (this._state !== 'open') return this.refuse(action, notify, this.notOpen());
    const aborted = abortedAlready(opts);
    // Unsent, its caller's doing: nothing of it for a FailoverPool's breaker to count (a half-open probe aborted as it was picked).
    if (aborted) return this.refuse(action, notify, markRefusedUnsent(aborted));
    const sendNow = this.throttler.canSend();
    // `accepted` read last: a call that finds room never reads it.
    if (!sendNow && this.throttler.full() && !accepted) {
      return this.refuse(action, notify, new RpcError(ErrorCode.Overloaded, `more than ${this.throttler.maxQueued} calls waiting on ${this.remote}`));
    }
    const call = new Call(action, wireAction, msg, blob, timeoutMs, notify);
    if (opts.onReplyMetadata !== undefined) call.onReplyMetadata = opts.onReplyMetadata;
    // Before the head notes `acceptedAt`: a finer pace counts the idle time since the last tick
    // into `elapsed`, which is not the call's and must not be taken off the time its head sends.
    call.deadline = this.pace.deadline(timeoutMs);
    // A call the server must be able to cancel, time out or read metadata of goes with a head.
    if (cancellable(opts) || opts.timeoutMs !== undefined || opts.metadata !== undefined) {
      const bad = this.headed(call, opts);
      if (bad) return this.refuse(action, notify, fromDownstream(markRefusedUnsent(bad)));
    }
    this.deadlines.add(call);
    if (cancellable(opts)) this.watchAbort(call, opts);
    if (sendNow) this.transmit(call);
    else this.throttler.enqueue(call);
  }

  /** A call refused before it was accepted: told at once, guarded as every settling is (`notifyGuarded`). */
  private refuse(action: string | number, notify: Notify, err: RpcError): void {
    notifyGuarded(this.logger, this.remote, action, notify, err, null);
  }

  /**
   * Resolves when the peer answers a ping: proof that it reads and answers, which a connect is
   * not (the kernel of a stopped server still completes handshakes). Joins the keepalive's ping
   * when one is out. Rejects when the stream closes first, as it does when the ping stays
   * unanswered for `keepaliveTimeoutMs` with nothing more of the peer's arriving: bytes still
   * coming (the pong behind the rest of a large reply) restart that wait, so a peer that keeps
   * sending and never answers holds it (as gRPC's keepalive counts any read): bound it yourself
   * where that matters.
   */
  ping(): Promise<void> {
    if (this._state !== 'open') return Promise.reject(this.notOpen());
    return new Promise((resolve, reject) => {
      this.pongWaiters.push({ resolve, reject });
      this.keepalive.ping();
    });
  }

  /** Stops taking calls, lets the ones accepted finish or time out, then closes the connection. */
  close(): Promise<void> {
    if (this._state === 'open') {
      this._state = 'closing';
      this.serving?.startClose();
      this.endIfIdle();
    }
    return this.closed().then(() => undefined);
  }

  /** Closes at once; every unsettled call fails with IO (`retry: 'safe'` for calls never sent). */
  destroy(reason = 'stream destroyed'): void {
    this.shutdown(new Error(reason));
    this.conn.close();
  }

  /** Resolves when the connection is gone, with the error that ended it, if any. */
  closed(): Promise<Error | undefined> {
    if (this._state === 'closed') return Promise.resolve(this.closeError);
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  private authLink(): AuthLink {
    return {
      remote: this.remote,
      sendCredentials: (msg) => this.writeOwn(AUTH_ACTION, msg),
      // Graceful: calls on the wire finish; new ones fail with Closed, which a pool retries on a fresh connection.
      expired: () => void this.close(),
      closed: () => this.closed(),
      destroy: (reason) => this.destroy(reason),
    };
  }

  private keepaliveLink(): KeepaliveLink {
    return {
      remote: this.remote,
      writePing: () => this.writeOwn(PING_ACTION, EMPTY_BYTES),
      lost: (err) => this.lost(err),
      drop: () => this.conn.close(),
      sending: () => (this.conn.congested ? this.conn.sentBytes : undefined),
      receivedBytes: () => this.conn.receivedBytes,
    };
  }

  /** What the streams need of the connection: its checks, its seqs and writes, its close. */
  private streamsHost(): StreamsHost {
    return {
      remote: this.remote,
      logger: this.logger,
      hello: this.hello,
      pace: this.pace,
      checkCall: (action, msg, blob) => this.checkCall(action, msg, blob, true),
      refusal: () => {
        this.auth?.ranOut(); // as `accept`: past the grant's end, refused Closed, unsent
        return this._state !== 'open' ? this.notOpen() : undefined;
      },
      askVerdict: () => this.keepalive.askVerdict(),
      nextSeq: () => this.nextSeq++,
      writeOpen: (seq, action, msg, blob, head, remainingMs) => {
        this.writeHead(OPEN_ACTION, seq, head, remainingMs);
        this.writeRequest(action, seq, msg, blob);
      },
      writeBare: (action, seq) => {
        this.writeBare(action, seq);
        if (action === END_ACTION) this.sentEnd();
      },
      settle: (stream, bytes, start, end) => this.settle(stream, bytes, start, end),
      left: () => {
        if (this.openStreams < this.streamsRefusedAt) this.streamsRefusedAt = Infinity;
        this.endIfClosing();
        this.onRoom?.();
      },
      lost: (err) => this.lost(err),
    };
  }

  /**
   * The server's request limits, once its hello's answer names them: requests and stream items
   * made from now on are held within them (checkCall, ConnStreams), and so are those that waited
   * for the answer or the window, as they leave their wait (transmit, ConnStreams.open). Only a
   * call or stream sent before the answer came can still reach the server over them.
   */
  private takeServerLimits(): void {
    const theirs = this.hello.serverLimits;
    if (theirs === undefined) return;
    const own = this.limits;
    this.sendLimits = {
      maxMessage: Math.min(own.maxMessage, theirs.maxMessage),
      maxBlob: Math.min(own.maxBlob, theirs.maxBlob),
      maxAction: Math.min(own.maxAction, theirs.maxAction),
    };
    // Frames each within it may still be sent together (a WebSocket message holds a batch of them): the batch is held within it too.
    if (theirs.maxFrame !== undefined) {
      this.conn.setPeerMaxFrameBytes?.(theirs.maxFrame);
      // Answers to its reverse calls are request frames too.
      this.serving?.narrowFrame(theirs.maxFrame);
    }
    this.streaming.narrow(this.sendLimits, this.maxFrame);
    // Prefixes are checked as they are made: those made before are made again, and checked then.
    if (this.sendLimits.maxAction < own.maxAction) this.actions.clear();
  }

  /** A request part over `sendLimits`: over the client's own limits, or only over the server's (never sent, so safe to send elsewhere). */
  private overLimit(what: 'message' | 'blob' | 'action', n: number, max: number, own: number): RpcError {
    if (max >= own) return tooLarge(what, n, max);
    return new RpcError(ErrorCode.FrameTooLarge, `${what} of ${n} bytes exceeds ${this.remote}'s limit of ${max} (its hello's answer): not sent`, { retry: 'safe' });
  }

  /** `opening`: a stream's, which waits for the hello's answer to open and is checked again then. */
  private checkCall(action: string | number, msg: Uint8Array, blob: Uint8Array, opening?: boolean): number | Uint8Array {
    if (!(msg instanceof Uint8Array)) throw invalidArgument('msg must be a Uint8Array');
    if (!(blob instanceof Uint8Array)) throw invalidArgument('blob must be a Uint8Array');
    const over = this.overSendLimits(msg.length, blob.length, 0);
    if (over !== undefined) throw over;
    if (typeof action === 'number') {
      // From HELLO_ACTION up, numeric actions are the protocol's own (hello, extension frames).
      if (!Number.isInteger(action) || action <= PING_ACTION || action >= HELLO_ACTION) {
        throw invalidArgument(`numeric action must be an integer in 1..${HELLO_ACTION - 1} (${HELLO_ACTION} and up are reserved), got ${action}`);
      }
      this.checkFrame(REQUEST_HEADER_LENGTH + msg.length + blob.length, opening);
      return action;
    }
    if (typeof action !== 'string' || action.length === 0) throw invalidArgument('action must be a non-empty string or a number');
    const prefix = this.actionPrefix(action);
    this.checkFrame(prefix.length + msg.length + blob.length, opening);
    return prefix;
  }

  /**
   * Throws when a request frame of `bytes` (header, action, message, blob) is over what the
   * server's transport carries; before the hello's answer, `frameOver` decides: one compare a call.
   */
  private checkFrame(bytes: number, opening: boolean | undefined): void {
    if (bytes > this.maxFrame) this.frameOver(bytes, opening);
  }

  /**
   * A frame over `maxFrame`: over the server's cap once the answer is in (refused unsent); before
   * it, every frame. Until the answer, calls go while they fit in PRE_ANSWER_BYTES (each alone
   * where the transport sends each frame alone; together where it packs them into one message,
   * which the server's cap bounds whole, the hello in it: `preAnswerRoomFor`); the first that
   * does not closes the window until the answer is in, so that it and every later call wait in
   * order (`Throttler.hold`), and leave as the answer lets them (`pump`: those over the cap are refused unsent then). A server that never
   * names a cap (razor v1, an older Skein) answers the hello too: they go then, a round trip late.
   */
  private frameOver(bytes: number, opening: boolean | undefined): void {
    if (this.hello.dialect !== 'pending') throw overFrameLimit(this.remote, 'request frame', bytes, this.maxFrame);
    // A stream opens once the answer is in, checked again then (ConnStreams.open).
    if (opening) return;
    // Counted as it is made, sent or not (one waiting for the window, a held call): over, never under.
    if (bytes <= this.preAnswerRoom) {
      if (this.conn.setPeerMaxFrameBytes !== undefined) this.preAnswerRoom -= bytes;
      return;
    }
    this.preAnswerRoom = 0;
    this.throttler.hold();
    // As for a held call: a peer that drops the hello must say so (its ping unanswered).
    this.keepalive.askVerdict();
  }

  /**
   * A string action's request prefix: room for the header, then the action's bytes. A call
   * fills in the header and writes header and name as one part, which the transport copies at
   * once: one write per call less, and the prefix can be shared by every call of the action.
   */
  private actionPrefix(action: string): Uint8Array {
    let prefix = this.actions.get(action);
    if (prefix) return prefix;
    const bytes = utf8.encode(action);
    const over = this.overSendLimits(0, 0, bytes.length);
    if (over !== undefined) throw over;
    prefix = new Uint8Array(REQUEST_HEADER_LENGTH + bytes.length);
    prefix.set(bytes, REQUEST_HEADER_LENGTH);
    // Actions are method names, a small set; the bound only guards against callers that mint them.
    if (this.actions.size < 4096) this.actions.set(action, prefix);
    return prefix;
  }

  private watchAbort(call: Call, opts: CallOptions): void {
    call.unhookAbort = hookAbort(opts, (why) => {
      if (call.done) return;
      this.deadlines.remove(call);
      if (!this.unhold(call, true)) {
        if (call.seq === 0) this.throttler.settled();
        else if (this.pending.delete(call.seq)) {
          this.throttler.inFlight--;
          // On the wire: the server stops it too (it tracks only calls that came with a head).
          if (call.headed) this.writeBare(CANCEL_ACTION, call.seq);
          // Its source's deadline passed while the server had it: as slow a server as a call's own
          // Timeout says. Not its signal's timeout: the caller's budget, counted as a cancel is.
          if (sourceDeadline(why)) markUnanswered(why);
        }
      }
      // Not sent yet (held or waiting): the line keeps it until a later shift, which may never come.
      if (call.seq === 0) call.dropPayload();
      call.finish(why, null, this.callbacks);
      this.soon.request();
    });
  }


  /** Notes what a call's head carries; an error when its metadata cannot be sent. */
  private headed(call: Call, opts: CallOptions): RpcError | undefined {
    const { metadata } = opts;
    if (metadata !== undefined) {
      const notRecord = metadataRefusal(metadata);
      if (notRecord) return notRecord;
      try {
        call.head = encodeCallHead(undefined, metadata);
      } catch (err) {
        if (err instanceof CallHeadError) return invalidArgument(`metadata: ${err.message}`);
        throw err;
      }
      const tooBig = this.hello.headTooLarge(call.head);
      if (tooBig) return tooBig;
    }
    call.headed = true;
    call.sendsDeadline = opts.timeoutMs !== undefined;
    call.acceptedAt = this.pace.elapsed;
    return undefined;
  }

  /** True when the call was held for the hello's answer (and is not any more); `inLine`: it ends there, before its turn. */
  private unhold(call: Call, inLine = false): boolean {
    if (!call.held) return false;
    call.held = false;
    this.throttler.inFlight--;
    if (inLine) this.held.settled();
    return true;
  }

  /** Holds a call for the hello's answer, counted in the window, and asks for a verdict. */
  private hold(call: Call): void {
    call.held = true;
    this.held.push(call);
    this.throttler.inFlight++;
    this.keepalive.askVerdict();
  }

  /**
   * Refused unsent because the stream is not open (Closed, safe to make elsewhere), saying why
   * when the server sent the connection away: "stream ... is closed" alone gave nothing to fix.
   */
  private notOpen(): RpcError {
    const why = this.refusal;
    if (why === undefined) return new RpcError(ErrorCode.Closed, `stream to ${this.remote} is ${this._state}`, { retry: 'safe' });
    return new RpcError(ErrorCode.Closed, `stream to ${this.remote} is ${this._state}: the server refused the connection (${why.codeName}: ${why.message})`, { cause: why, retry: 'safe' });
  }

  /**
   * The server answered the hello with a refusal of the connection (ClientHello.refusal), which
   * it then ends: calls and streams waiting for that answer fail here, unsent, and the stream
   * closes as `close()` does, so that new calls fail at once with why. Calls already sent are
   * answered by the server (refused, unrun).
   */
  private refusedByServer(): void {
    const why = this.hello.refusal;
    if (why === undefined || this._state === 'closed') return;
    this.refusal = why;
    void this.close();
    const err = this.notOpen();
    for (const call of this.held.drain()) {
      if (!this.unhold(call)) continue;
      this.deadlines.remove(call);
      call.finish(err, null, this.callbacks);
    }
    this.streaming.refuseWaiting(err);
    // Those the window kept for the answer (`frameOver`) too: unsent, they would reach a server that sends the connection away.
    for (const call of this.throttler.drain()) {
      this.deadlines.remove(call);
      call.finish(err, null, this.callbacks);
    }
    this.endIfClosing();
  }

  /** The hello's answer is in: held calls go, with their heads if the server agreed them. */
  private releaseHeld(): void {
    // Closed: failAll fails them.
    if (this._state === 'closed') return;
    // All out of the count first: those past a window the answer narrowed wait their turn, first in line.
    const calls = this.held.drain().filter((call) => this.unhold(call));
    let sent = 0;
    while (sent < calls.length && this.throttler.inFlight < this.throttler.window) this.transmit(calls[sent++]!, true);
    if (sent < calls.length) this.throttler.putFirst(calls.slice(sent));
    // Then those the window kept for the answer (`frameOver`), held to the server's cap now.
    if (this.throttler.queued !== 0) this.pump();
  }

  /** `waited`: it leaves a wait (the window's, the hello's): what it spent there is read off the clock. */
  private transmit(call: Call, waited = false): void {
    if (call.headed) {
      // A head may go only to a peer that agreed heads, and what it carries must not be lost:
      // metadata, a signal the server must be able to act on, a deadline the server must keep
      // (or it runs the call on after we gave up). So it waits for the hello's answer, bounded
      // by its own deadline; one that ends meanwhile ends unsent.
      if (this.hello.dialect === 'pending') return this.hold(call);
      const tooBig = this.hello.headTooLarge(call.head);
      if (tooBig) {
        this.deadlines.remove(call);
        return call.finish(tooBig, null, this.callbacks);
      }
    }
    // Accepted before the server's limits were known, it was checked against the client's own only.
    if (waited && this.sendLimits !== this.limits) {
      const over = this.overServerLimits(call);
      if (over) return this.refuseWaited(call, over);
    }
    // What is left of its own timeout, which its server keeps as its deadline. Sent at once, it
    // spent nothing; after a wait, read off the clock (one read, only for such a call): the ticks
    // alone leave out up to a period since the last one, time the caller does not wait.
    const remaining = call.sendsDeadline ? call.timeoutMs - ((waited ? this.pace.now() : this.pace.elapsed) - call.acceptedAt) : undefined;
    if (remaining !== undefined && remaining <= 0) return this.spentWaiting(call);
    const seq = this.nextSeq++;
    call.seq = seq;
    this.pending.set(seq, call);
    this.throttler.inFlight++;
    if (call.headed) this.writeHead(HEAD_ACTION, seq, call.head, remaining);
    this.writeRequest(call.action, seq, call.msg, call.blob);
  }

  /** What a call that waited (`transmit`) is over of `sendLimits`, checked as `checkCall` checks a new one. */
  private overServerLimits(call: Call): RpcError | undefined {
    const action = typeof call.action === 'number' ? 0 : call.action.length - REQUEST_HEADER_LENGTH;
    const over = this.overSendLimits(call.msg.length, call.blob.length, action);
    if (over !== undefined) return over;
    const frame = REQUEST_HEADER_LENGTH + action + call.msg.length + call.blob.length;
    return frame > this.maxFrame ? overFrameLimit(this.remote, 'request frame', frame, this.maxFrame) : undefined;
  }

  /** The first of a request's parts (bytes; an action by its name's, 0 for a numeric one) over `sendLimits`, if any: one check for new calls and those that waited. */
  private overSendLimits(msg: number, blob: number, action: number): RpcError | undefined {
    const limits = this.sendLimits;
    if (msg > limits.maxMessage) return this.overLimit('message', msg, limits.maxMessage, this.limits.maxMessage);
    if (blob > limits.maxBlob) return this.overLimit('blob', blob, limits.maxBlob, this.limits.maxBlob);
    if (action > limits.maxAction) return this.overLimit('action', action, limits.maxAction, this.limits.maxAction);
    return undefined;
  }

  /** A call that waited and may not go after all: it fails unsent, as one refused when made does (about the call, not downstream). */
  private refuseWaited(call: Call, err: RpcError): void {
    this.deadlines.remove(call);
    call.dropPayload();
    call.finish(fromDownstream(err), null, this.callbacks);
  }

  /**
   * Its timeout ran out while it waited, before its expiry on the ticks (up to a period later)
   * came: never sent, as one that expires waiting (`expire`). Sent, it would carry a deadline of
   * 0 ms, which its server answers Timeout unrun, and the caller reads "may have run".
   */
  private spentWaiting(call: Call): void {
    this.deadlines.remove(call);
    call.dropPayload();
    const err = withoutStack(() => new RpcError(ErrorCode.Timeout, `call waited its ${call.timeoutMs} ms to be sent (for the window, or the hello's answer) and was never sent`, { retry: 'safe' }));
    call.finish(err, null, this.callbacks);
  }

  /**
   * A call head (HEAD_ACTION) or a stream's opening (OPEN_ACTION), right before the request it
   * heads. Nothing for a peer that did not agree heads: it gets the plain call.
   */
  private writeHead(action: number, seq: number, head: Uint8Array | undefined, remainingMs: number | undefined): void {
    if (!this.hello.agreed || this.hello.agreed.maxHead === 0) return;
    const bytes = head ?? this.headBytes;
    putU32(bytes, 0, wireRemaining(remainingMs));
    writeRequestHeader(this.header, action, 0, seq, bytes.length, 0);
    this.conn.write(this.header);
    this.conn.write(bytes);
  }

  /** A bodiless extension frame (cancel, end), only to a peer that agreed them. */
  private writeBare(action: number, seq: number): void {
    if (this._state === 'closed' || !this.hello.agreed?.cancel) return;
    writeRequestHeader(this.header, action, 0, seq, 0, 0);
    this.conn.write(this.header);
  }

  private writeRequest(action: number | Uint8Array, seq: number, msg: Uint8Array, blob: Uint8Array): void {
    if (typeof action === 'number') {
      // The header is built in one reused buffer: the transport copies parts this small at once.
      writeRequestHeader(this.header, action, 0, seq, msg.length, blob.length);
      this.conn.write(this.header);
    } else {
      writeRequestHeader(action, '', action.length - REQUEST_HEADER_LENGTH, seq, msg.length, blob.length);
      if (action.length < SMALL_PART) {
        this.conn.write(action);
      } else {
        // Too long to be copied for sure: the header goes as a small part (copied), the name by
        // reference (later calls rewrite only the header).
        this.conn.write(action.subarray(0, REQUEST_HEADER_LENGTH));
        this.conn.write(action.subarray(REQUEST_HEADER_LENGTH));
      }
    }
    // Empty parts are skipped: each write is a call into the transport, for nothing.
    if (msg.length !== 0) this.conn.write(msg);
    if (blob.length !== 0) this.conn.write(blob);
  }

  /**
   * Opens a stream (docs/protocol.md, "Streams") with `msg` and `opts.blob` as its opening
   * request: read the server's items with `for await`, send yours with `write()`. Streams do
   * not count against the window. Fails (reading and `result`) with Version when the server
   * did not agree streams in the hello (a razor v1 peer); `opts.timeoutMs` travels as its
   * deadline, which the server enforces, and ends it here too (cancelled, with Timeout) when the
   * server does not answer in time; `opts.signal` cancels it.
   */
  openStream(action: string | number, msg: Uint8Array = EMPTY_BYTES, opts: CallOptions = {}): StreamCall {
    return this.streaming.open(this.streaming.made(opts), action, msg, opts);
  }

  /** @internal Opens a stream a pool made before it picked this connection (see `openStream`). */
  openOn(stream: StreamCall, action: string | number, msg: Uint8Array, opts: CallOptions): StreamCall {
    return this.streaming.open(stream, action, msg, opts);
  }

  private reverseLink(transport: string): ReverseLinkOf {
    const conn = this.conn;
    return {
      remote: this.remote,
      transport,
      get congested() {
        return conn.congested;
      },
      write: (part) => {
        if (this._state !== 'closed') this.conn.write(part);
      },
      idle: () => {
        if (this._state === 'closing') this.endIfIdle();
      },
    };
  }

  /** A request of the protocol's own (a ping, credentials) under a new seq; returns the seq. */
  private writeOwn(action: number, msg: Uint8Array): number {
    const seq = this.nextSeq++;
    writeRequestHeader(this.header, action, 0, seq, msg.length, 0);
    this.conn.write(this.header);
    if (msg.length !== 0) this.conn.write(msg);
    return seq;
  }

  /**
   * The server asks whether we are still here (wire/server-pings.ts): answered at once, here, so
   * that no handler ever sees it and a client without `serve` answers too. Not once our side
   * has ended: nothing may follow the end, and the server's wait for our close is short. Nor
   * while the send buffer is full: the bytes waiting there answer it (the server takes any frame
   * it reads for the answer, and keeps one ping out), and a server that pings without reading
   * would otherwise grow our memory by a pong per ping, without bound. One the hello did not
   * agree is a broken server's: the connection closes, as on an unknown flag.
   */
  private answerServerPing(): void {
    if (!this.hello.accepted.includes(SERVER_PINGS_KIND)) throw notAgreed('server ping', SERVER_PING_FLAG);
    if (this._state === 'closed' || this.endedAt >= 0 || this.conn.congested) return;
    this.conn.write(SERVER_PONG_FRAME);
  }

  /** The draining server's last frame: a pool sends nothing more here, and what is unanswered never ran (failAll). */
  private goodbye(): void {
    if (!this.hello.accepted.includes(GOODBYE_KIND)) throw notAgreed('goodbye', GOODBYE_FLAG);
    this.saidGoodbye = true;
    this.peerClosing = true;
  }

  private onFrame(bytes: Uint8Array, start: number, end: number): void {
    this.received = true;
    // The goodbye is the server's last frame: one after it is a broken server's, whose goodbye does not hold.
    if (this.saidGoodbye) {
      this.saidGoodbye = false;
      throw frameAfterGoodbye(bytes[start + RES_FLAG_AT]!, readSeq(bytes, start + SEQ_AT));
    }
    // Its own flag, its own seqs: read before a reply's seq is looked up.
    if (this.serving !== undefined && isReverseFrame(bytes[start + RES_FLAG_AT]!)) return this.serving.frame(bytes, start, end);
    const seq = readSeq(bytes, start + SEQ_AT);
    if (seq === HELLO_SEQ) {
      const flag = bytes[start + RES_FLAG_AT];
      if (flag === SERVER_PING_FLAG) return this.answerServerPing();
      if (flag === GOODBYE_FLAG) return this.goodbye();
      return this.hello.answer(bytes, start, end);
    }
    // Calls held for the hello's answer (a deadline, a signal, metadata) go once it is known never to come.
    if (this.hello.dialect === 'pending') this.hello.unanswered();
    const call = this.pending.get(seq);
    if (!call) return this.noCall(seq, bytes, start, end);
    // Checked while the call is still pending, so that the close this causes fails it too.
    if (bytes[start + RES_FLAG_AT]! > ResponseFlag.ErrorString) {
      // A reply head: its answer follows, the call stays pending for it.
      if (bytes[start + RES_FLAG_AT] === REPLY_METADATA_FLAG) return readReplyMetadata(call, this.hello, this.callbacks, bytes, start, end);
      throw unknownAnswerFlag(seq, bytes[start + RES_FLAG_AT]!);
    }
    this.pending.delete(seq);
    this.deadlines.remove(call);
    this.throttler.inFlight--;
    this.settle(call, bytes, start, end);
    this.pump();
  }

  /**
   * A frame for no pending call: the ping's or the credentials' answer, a stream's, or a reply to
   * a call that timed out or was cancelled (read, as the transport did, and dropped). No two of
   * them share a seq, so a call's is looked for first: the others cost a reply nothing.
   */
  private noCall(seq: number, bytes: Uint8Array, start: number, end: number): void {
    if (this.keepalive.answered(seq)) return this.pong();
    if (this.auth !== undefined && seq === this.auth.sentSeq) return this.auth.answer(bytes, start, end);
    if (this.streams.size !== 0) this.streaming.frame(seq, bytes, start, end);
  }

  /** Reads an answer (ok, error number, error string) into what waits for it: a call or a stream. */
  private settle(to: Call | StreamCall, bytes: Uint8Array, start: number, end: number): void {
    const flag = bytes[start + RES_FLAG_AT];
    const bodyAt = start + RESPONSE_HEADER_LENGTH;
    let err: RpcError | RemoteError | null = null;
    let reply: Reply | null = null;
    if (flag === ResponseFlag.Ok) {
      const msgEnd = bodyAt + u32(bytes, start + RES_MSG_LEN_AT);
      const blob = msgEnd === end ? EMPTY_BYTES : takeBytes(bytes, msgEnd, end);
      reply = { msg: msgEnd === bodyAt ? EMPTY_BYTES : takeBytes(bytes, bodyAt, msgEnd), blob };
    } else if (flag === ResponseFlag.ErrorNumber) {
      err = new RemoteError(u32(bytes, start + RES_MSG_LEN_AT));
    } else {
      let e = readErrorBytes(takeBytes(bytes, bodyAt, end));
      // From a razor v1 server a "refused unrun" code is its handler's (see `ClientHello.v1Server`):
      // read as safe, a pool would run a call that is not idempotent again on another server.
      if (e instanceof RpcError && e.retry === 'safe' && this.hello.v1Server) e = ranOnV1Server(e);
      if (e instanceof RpcError && e.code === ErrorCode.Closed && e.retry === 'safe') this.peerClosing = true;
      // The sign of a refusal for room is read on a stream's opening alone, never on a call's answer.
      else if (e instanceof RpcError && !(to instanceof Call) && !this.hello.v1Server) e = roomRefusal(e, to);
      err = e instanceof RpcError ? e : new RemoteError(e);
    }
    // A call's callback is its caller's: guarded, as a throw here would close the connection under every other call.
    if (to instanceof Call) {
      if (to.onReplyMetadata !== undefined) to.tellReplyMetadata(this.callbacks);
      to.finish(err, reply, this.callbacks);
    } else {
      // Out of `streams` already: the count is of the others.
      if (err !== null && this.openStreams > 0 && refusedForRoom(err, to)) this.streamsRefusedAt = this.openStreams;
      to.finish(err, reply);
    }
  }

  /** Sends waiting calls while the window has room. */
  private pump(): void {
    // One leaving the wait past the grant's end would be refused "credentials expired" (never retried, though unrun).
    if (this.auth !== undefined && this.throttler.queued !== 0 && this.throttler.inFlight < this.throttler.window && this.auth.ranOut()) this.refuseWaiting();
    for (let call = this.throttler.next(); call; call = this.throttler.next()) this.transmit(call, true);
    if (this.onRoom !== undefined && this.throttler.inFlight < this.throttler.window) this.onRoom();
    if (this._state === 'closing') this.endIfIdle();
  }

  /**
   * The grant ran out (the stream is closing): the calls waiting for the window end as a new
   * call does now, Closed and unsent, which a pool sends on a fresh connection.
   */
  private refuseWaiting(): void {
    for (const call of this.throttler.drain()) {
      this.deadlines.remove(call);
      const err = withoutStack(() => new RpcError(ErrorCode.Closed, `stream to ${this.remote} is ${this._state}: its credentials' grant ran out before the call left the window's wait`, { retry: 'safe' }));
      call.finish(err, null, this.callbacks);
    }
  }

  private tick(now: number): void {
    if (this.received) {
      this.received = false;
      this.keepalive.heard(now);
    }
    // Expired calls free window slots (or, closing, may leave the stream idle): pump after.
    if (this.deadlines.sweep(this.pace.elapsed, this.expire) !== 0) this.pump();
    this.streaming.tick(this.pace.elapsed);
    if (this._state !== 'closed') this.keepalive.tick(now, this.endedAt);
  }

  /** Fails a call past its deadline: on the wire (Timeout, may have run) or still waiting (never sent). */
  private readonly expire = (call: Call): void => {
    if (call.done) return;
    if (call.seq === 0) {
      // Held for the hello's answer, or waiting for the window: never sent either way.
      const held = this.unhold(call, true);
      if (!held) this.throttler.settled();
      // Held: no reply came, not even the hello's answer (said as for a call on the wire; `retry` tells them apart).
      const why = held ? `no reply from ${this.remote} within ${call.timeoutMs} ms` : this.unsentWhy(call.timeoutMs);
      // The line keeps it until a later shift, which a full window may put off for good.
      call.dropPayload();
      call.finish(withoutStack(() => new RpcError(ErrorCode.Timeout, why, { retry: 'safe' })), null, this.callbacks);
    } else {
      this.pending.delete(call.seq);
      this.throttler.inFlight--;
      // Nobody waits for its answer now: a server tracking it (it went with a head) stops it, as
      // at an abort. Also when it went with this very deadline: a server that reads it late (not
      // reading, at its cap or behind a full send buffer) starts that deadline only then, and
      // would run it whole; the cancel right behind it stops it as soon as it is read. Near the
      // deadline the two race: the handler reads Timeout or Cancelled, whichever comes first.
      if (call.headed) this.writeBare(CANCEL_ACTION, call.seq);
      call.finish(withoutStack(() => new RpcError(ErrorCode.Timeout, `no reply from ${this.remote} within ${call.timeoutMs} ms`)), null, this.callbacks);
    }
  };

  /** Why a call that waited in the line for its whole timeout was never sent: the window, or (the line held, `frameOver`) the hello's answer. */
  private unsentWhy(timeoutMs: number): string {
    if (this.throttler.holding) return `call waited ${timeoutMs} ms for ${this.remote}'s answer to the hello and was never sent`;
    return `call waited ${timeoutMs} ms for the window and was never sent`;
  }

  /** The answer to the ping out: wakes `ping()` callers. */
  private pong(): void {
    if (this.pongWaiters.length === 0) return;
    const waiters = this.pongWaiters;
    this.pongWaiters = [];
    for (const w of waiters) w.resolve();
  }

  /**
   * A stream sent its END: the server frees its budget but for what that stream has unread, which
   * may make room. Nothing else the client sees says the server freed some (its handlers' reads
   * after an END, or of a stream that ignores its items, send nothing): until one of its streams
   * ends or leaves, a connection refused for room takes none (`streamRoom`), its pool opening them
   * on others. A stream refused again marks it so again.
   */
  private sentEnd(): void {
    if (this.streamsRefusedAt === Infinity) return;
    this.streamsRefusedAt = Infinity;
    this.onRoom?.();
  }

  private endIfClosing(): void {
    if (this._state === 'closing') this.endIfIdle();
  }

  private endIfIdle(): void {
    const noStreams = this.streaming.idle();
    if (noStreams && this.pending.size === 0 && this.throttler.queued === 0 && this.held.size === 0 && !(this.serving && this.serving.inFlight > 0)) {
      if (this.endedAt < 0) this.endedAt = this.clock.now();
      this.conn.end();
    }
  }

  private failAll(cause: Error): void {
    const calls = this.pending.values();
    this.pending.clear();
    this.deadlines.clear();
    this.throttler.inFlight = 0;
    // Stackless, as every error made for many calls at once here: its stack would name only the
    // socket's close handler (or a ticker), never a caller's code, and cost most of the turn.
    for (const call of calls) call.finish(withoutStack(() => this.lostCallError(cause)), null, this.callbacks);
    const unsent = [...this.throttler.drain(), ...this.held.drain()];
    for (const call of unsent) {
      call.held = false;
      call.finish(withoutStack(() => new RpcError(ErrorCode.IO, `connection to ${this.remote} lost before the call was sent: ${cause.message}`, { cause, retry: 'safe' })), null, this.callbacks);
    }
    this.streaming.fail(cause, this.saidGoodbye);
    const waiters = this.pongWaiters;
    this.pongWaiters = [];
    for (const w of waiters) w.reject(withoutStack(() => new RpcError(ErrorCode.IO, `connection to ${this.remote} lost before a ping was answered: ${cause.message}`, { cause })));
  }

  /**
   * What a call still unanswered when the connection ended fails with: it may have run, unless
   * the server said it did not. It said so with a goodbye, or by refusing the connection at its
   * hello (a server refuses so only a connection on which it runs nothing: one at a connection
   * cap, closed before anything was read, or one sent away from probation, whose calls it
   * refuses unrun).
   */
  private lostCallError(cause: Error): RpcError {
    // Overloaded only: what both of a Skein server's refusals send (a cap's, probation's). Any
    // other code in a hello's answer (a razor v1 gateway passing on a downstream's words, say)
    // does not show that nothing ran.
    if (this.refusal?.code === ErrorCode.Overloaded) return refusedConnection(this.remote, this.refusal);
    return this.saidGoodbye ? unreadByClosingServer(this.remote, cause) : lostOnWire(this.remote, cause);
  }

  /** The peer broke the protocol or stopped answering: the connection ends with `err`. */
  private lost(err: Error): void {
    this.shutdown(err, err);
    this.conn.close();
  }

  private onClosed(err: Error | undefined): void {
    // Bytes that do not frame before any frame of the protocol came: the peer is likely no Skein server.
    if (err instanceof FrameError && this.hello.dialect === 'pending') err = strangerPeer(err);
    // Bytes after the goodbye that do not frame break it as a frame would: the calls unanswered may have run.
    if (brokeProtocol(err)) this.saidGoodbye = false;
    // A server that refused the connection ended it, reset or not (one at its cap closes with the
    // hello unread): that is what it closed with, and what its calls and the stream's close error
    // say; not logged as a stream lost.
    if (err && this._state !== 'closed' && this.refusal === undefined) this.logger.warn({ remote: this.remote, err }, 'stream closed');
    const why = this.refusal ?? err;
    this.shutdown(why ?? new Error('closed by peer'), why);
  }

  /** The one way to the closed state: fail what is left, stop the ticker, wake `closed()` waiters. */
  private shutdown(cause: Error, err?: Error): void {
    if (this._state === 'closed') return;
    this._state = 'closed';
    this.streaming.close();
    this.closeError = err;
    this.pace.stop();
    this.auth?.close();
    if (this.onClose) {
      try {
        this.onClose(err);
      } catch (e) {
        this.logger.error({ remote: this.remote, err: e }, 'onClose hook threw');
      }
    }
    this.failAll(cause);
    // After the calls out failed: one a handler of the server's calls made on its call's behalf
    // (its abort source) fails as the lost connection fails it (IO, it may have run), not
    // Cancelled by that handler's abort, as if its caller gave up.
    this.serving?.close(cause);
    for (const w of this.closedWaiters.splice(0)) w(this.closeError);
  }
}

/** A bare Skein refusal a razor v1 server's handler passed on: it ran there, so it may have run (no peer's own word). */
const ranOnV1Server = (e: RpcError): RpcError =>
  new RpcError(e.code, `${e.message} (from a razor v1 server, which refuses nothing so: its handler's error; the call may have run)`, { retry: 'idempotent' });

/**
 * A call still unanswered when a server that said goodbye ended the connection: it never ran
 * there, as a bare Closed says. The words fit both goodbyes: a closing server's, and one after a
 * request refused at its header (the server was not closing then).
 */
const unreadByClosingServer = (remote: string, cause: Error): RpcError =>
  new RpcError(ErrorCode.Closed, `${remote} said goodbye and ended the connection before it read the call (never ran): ${cause.message}`, { cause, retry: 'safe' });

/** A call on the wire when the server that refused the connection ended it: it never ran (the refusal says why). */
const refusedConnection = (remote: string, why: RpcError): RpcError =>
  new RpcError(ErrorCode.Overloaded, `${remote} refused the connection and ran nothing sent on it (${why.codeName}: ${why.message})`, { cause: why, retry: 'safe' });

/**
 * A call on the wire when the connection was lost: it may have run. Even when an mTLS server's
 * alert refusing this client's certificate ended it: under TLS 1.2 a server may renegotiate after
 * it read calls and refuse then, and the connection does not say which handshake the alert ended.
 */
const lostOnWire = (remote: string, cause: Error): RpcError => new RpcError(ErrorCode.IO, `connection to ${remote} lost: ${cause.message}`, { cause });

/** Over the client's own `limits` (what a user raises): the words name the option, so that raising the server's alone is not the fix tried next. */
const tooLarge = (what: 'message' | 'blob' | 'action', n: number, max: number): RpcError =>
  new RpcError(ErrorCode.FrameTooLarge, `${what} of ${n} bytes exceeds this client's limit of ${max} (limits.${OWN_LIMIT[what]}): not sent`);
const OWN_LIMIT = { message: 'maxMessage', blob: 'maxBlob', action: 'maxAction' } as const;

/** A call's answer has flag 0, 1 or 2; any other (a stream's item or credit) is the server's mistake, which ends its connection. */
function unknownAnswerFlag(seq: number, flag: number): FrameError {
  return new FrameError(`the answer to call ${seq} has flag ${flag}: a call's answer is ok (0) or an error (1, 2)`);
}

/** `fetching`, or Cancelled (core's `connectAborted`) once `signal` aborts, whichever comes first; its listener goes with it. */
function untilAborted<T>(fetching: Promise<T>, signal: AbortSignal | undefined, address: Address): Promise<T> {
  if (signal === undefined) return fetching;
  return new Promise<T>((resolve, reject) => {
    const unhook = whenAborted(signal, () => reject(connectAborted(formatAddress(address), signal.reason)));
    fetching.then(resolve, reject).finally(unhook);
  });
}
