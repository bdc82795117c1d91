import {
  EMPTY_BYTES,
  ErrorCode,
  RemoteError,
  RpcError,
  SMALL_PART,
  takeBytes,
  invalidArgument,
  parseAddress,
  silentLogger,
  systemClock,
  type Address,
  type Clock,
  type FrameConn,
  type Logger,
  type Transport,
} from '@skein/core';
import { Call, cancelled, type Notify, type Reply } from './call.js';
import { readErrorBytes } from '../wire/error-strings.js';
import { responseFrameSpec } from '../wire/frame-specs.js';
import type { Limits } from '../wire/limits.js';
import {
  ACTION_LEN_MASK,
  PING_ACTION,
  REQUEST_HEADER_LENGTH,
  RES_FLAG_AT,
  RES_MSG_LEN_AT,
  RESPONSE_HEADER_LENGTH,
  ResponseFlag,
  SEQ_AT,
  readSeq,
  u32,
  writeRequestHeader,
} from '../wire/protocol.js';
import type { CallOptions } from './call-options.js';
import { promised, type Caller } from './caller.js';
import { resolveStreamOptions, type ClientStreamOptions, type StreamSettings } from './options.js';
import { Throttler } from './throttler.js';
import { DeadlineWheel } from './deadline-wheel.js';
import { TickClock } from '../internals/tick-clock.js';
import { callTimeout } from '../internals/checks.js';
import { ClientHello } from './hello.js';
import { HELLO_SEQ } from '../wire/hello.js';

export type StreamState = 'open' | 'closing' | 'closed';

const utf8 = new TextEncoder();

/**
 * One multiplexed connection: calls are sent in order with a `seq` each, at most `window` in
 * flight, and matched to replies by seq in whatever order the server answers.
 */
export class ClientStream implements Caller {
  readonly address: Address;
  readonly remote: string;
  private readonly limits: Limits;
  private readonly throttler: Throttler;
  private readonly pending = new Map<number, Call>();
  private readonly actions = new Map<string, Uint8Array>();
  private readonly header = new Uint8Array(REQUEST_HEADER_LENGTH);
  /** Ticked time, for deadlines; its ticker also paces keepalive. */
  private readonly pace: TickClock;
  /** Every accepted call not settled yet (waiting or on the wire), by deadline. */
  private readonly deadlines: DeadlineWheel;
  private readonly defaultTimeoutMs: number;
  private readonly keepaliveMs: number;
  private readonly keepaliveTimeoutMs: number;
  private nextSeq = 1;
  private pingSeq = 0;
  private pingSentAt = 0;
  /** `ping()` callers waiting for the pong. */
  private pongWaiters: { resolve(): void; reject(err: Error): void }[] = [];
  private lastReceived: number;
  /** A frame arrived since the last tick; read and cleared per tick instead of reading the clock per frame. */
  private received = false;
  private _state: StreamState = 'open';
  private closeError: Error | undefined;
  private readonly closedWaiters: ((err: Error | undefined) => void)[] = [];
  private readonly onClose: ((err: Error | undefined) => void) | undefined;
  /** @internal What the peer speaks beyond razor v1, as its answer to our hello says. */
  readonly hello: ClientHello;

  private constructor(
    private readonly conn: FrameConn,
    private readonly clock: Clock,
    private readonly logger: Logger,
    address: Address,
    settings: StreamSettings,
    onClose: ClientStreamOptions['onClose'],
  ) {
    this.address = address;
    this.remote = conn.remote;
    this.limits = settings.limits;
    this.throttler = new Throttler(settings.window, settings.maxQueued);
    this.defaultTimeoutMs = settings.timeoutMs;
    this.keepaliveMs = settings.keepaliveMs;
    this.keepaliveTimeoutMs = settings.keepaliveTimeoutMs;
    this.lastReceived = clock.now();
    this.onClose = onClose;
    this.pace = new TickClock(clock, settings.tickMs, settings.timeoutMs, (now) => this.tick(now));
    this.deadlines = new DeadlineWheel(this.pace.finest);
    conn.bind({
      frame: (bytes, start, end) => this.onFrame(bytes, start, end),
      drain: () => {},
      close: (err) => this.onClosed(err),
    });
    // First on the wire, unanswered yet when the first call follows: it costs no round trip.
    this.hello = new ClientHello(settings.limits);
    if (this.hello.request) conn.write(this.hello.request);
  }

  /** Connects and returns a ready stream. Fails with Unreachable when the peer cannot be reached. */
  static async connect(opts: ClientStreamOptions): Promise<ClientStream> {
    const address = parseAddress(opts.address);
    // Checked before connecting: a bad option must not leave a connection open that nobody closes.
    const settings = resolveStreamOptions(opts);
    const conn = await opts.transport.connect(address, responseFrameSpec(settings.limits), { timeoutMs: opts.connectTimeoutMs });
    return new ClientStream(conn, opts.clock ?? systemClock, opts.logger ?? silentLogger, address, settings, opts.onClose);
  }

  get state(): StreamState {
    return this._state;
  }

  /** Calls on the wire awaiting a reply. */
  get inFlight(): number {
    return this.throttler.inFlight;
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
    const blob = opts.blob ?? EMPTY_BYTES;
    let wireAction: number | Uint8Array;
    let timeoutMs: number;
    try {
      wireAction = this.checkCall(action, msg, blob);
      timeoutMs = callTimeout(opts.timeoutMs, this.defaultTimeoutMs);
    } catch (err) {
      return notify(err as RpcError, null);
    }
    if (this._state !== 'open') return notify(new RpcError(ErrorCode.Closed, `stream to ${this.remote} is ${this._state}`), null);
    if (opts.signal?.aborted) return notify(cancelled(), null);
    const sendNow = this.throttler.canSend();
    if (!sendNow && this.throttler.full()) {
      return notify(new RpcError(ErrorCode.Overloaded, `more than ${this.throttler.maxQueued} calls waiting on ${this.remote}`), null);
    }
    const call = new Call(wireAction, msg, blob, timeoutMs, opts.signal, notify);
    call.deadline = this.pace.deadline(timeoutMs);
    this.deadlines.add(call);
    if (opts.signal) this.watchAbort(call, opts.signal);
    if (sendNow) this.transmit(call);
    else this.throttler.enqueue(call);
  }

  /**
   * Resolves when the peer answers a ping: proof that it reads and answers, which a connect is
   * not (the kernel of a stopped server still completes handshakes). Joins the keepalive's ping
   * when one is out. Rejects when the stream closes first, as it does when the ping stays
   * unanswered for `keepaliveTimeoutMs`.
   */
  ping(): Promise<void> {
    if (this._state !== 'open') return Promise.reject(new RpcError(ErrorCode.Closed, `stream to ${this.remote} is ${this._state}`));
    return new Promise((resolve, reject) => {
      this.pongWaiters.push({ resolve, reject });
      if (this.pingSeq === 0) this.sendPing(this.clock.now());
    });
  }

  /** Stops taking calls, lets the ones accepted finish or time out, then closes the connection. */
  close(): Promise<void> {
    if (this._state === 'open') {
      this._state = 'closing';
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

  private checkCall(action: string | number, msg: Uint8Array, blob: Uint8Array): number | Uint8Array {
    if (!(msg instanceof Uint8Array)) throw invalidArgument('msg must be a Uint8Array');
    if (!(blob instanceof Uint8Array)) throw invalidArgument('blob must be a Uint8Array');
    if (msg.length > this.limits.maxMessage) throw tooLarge('message', msg.length, this.limits.maxMessage);
    if (blob.length > this.limits.maxBlob) throw tooLarge('blob', blob.length, this.limits.maxBlob);
    if (typeof action === 'number') {
      if (!Number.isInteger(action) || action <= PING_ACTION || action > ACTION_LEN_MASK) {
        throw invalidArgument(`numeric action must be an integer in 1..${ACTION_LEN_MASK}, got ${action}`);
      }
      return action;
    }
    if (typeof action !== 'string' || action.length === 0) throw invalidArgument('action must be a non-empty string or a number');
    return this.actionPrefix(action);
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
    if (bytes.length > this.limits.maxAction) throw tooLarge('action', bytes.length, this.limits.maxAction);
    prefix = new Uint8Array(REQUEST_HEADER_LENGTH + bytes.length);
    prefix.set(bytes, REQUEST_HEADER_LENGTH);
    // Actions are method names, a small set; the bound only guards against callers that mint them.
    if (this.actions.size < 4096) this.actions.set(action, prefix);
    return prefix;
  }

  private watchAbort(call: Call, signal: AbortSignal): void {
    call.onAbort = () => {
      if (call.done) return;
      this.deadlines.remove(call);
      if (call.seq === 0) this.throttler.settled();
      else if (this.pending.delete(call.seq)) this.throttler.inFlight--;
      call.finish(cancelled(), null);
      this.pump();
    };
    signal.addEventListener('abort', call.onAbort, { once: true });
  }

  private transmit(call: Call): void {
    const seq = this.nextSeq++;
    call.seq = seq;
    this.pending.set(seq, call);
    this.throttler.inFlight++;
    const { action, msg, blob } = call;
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

  private sendPing(now: number): void {
    const seq = this.nextSeq++;
    writeRequestHeader(this.header, PING_ACTION, 0, seq, 0, 0);
    this.pingSeq = seq;
    this.pingSentAt = now;
    this.conn.write(this.header);
  }

  private onFrame(bytes: Uint8Array, start: number, end: number): void {
    this.received = true;
    const seq = readSeq(bytes, start + SEQ_AT);
    if (seq === HELLO_SEQ) return this.hello.answer(bytes, start, end);
    if (seq === this.pingSeq) return this.pong();
    const call = this.pending.get(seq);
    // A reply to a call that timed out or was cancelled: read (the transport did) and dropped.
    if (!call) return;
    this.pending.delete(seq);
    this.deadlines.remove(call);
    this.throttler.inFlight--;
    const flag = bytes[start + RES_FLAG_AT];
    const bodyAt = start + RESPONSE_HEADER_LENGTH;
    if (flag === ResponseFlag.Ok) {
      const msgEnd = bodyAt + u32(bytes, start + RES_MSG_LEN_AT);
      const blob = msgEnd === end ? EMPTY_BYTES : takeBytes(bytes, msgEnd, end);
      call.finish(null, { msg: msgEnd === bodyAt ? EMPTY_BYTES : takeBytes(bytes, bodyAt, msgEnd), blob });
    } else if (flag === ResponseFlag.ErrorNumber) {
      call.finish(new RemoteError(u32(bytes, start + RES_MSG_LEN_AT)), null);
    } else {
      const e = readErrorBytes(takeBytes(bytes, bodyAt, end));
      call.finish(e instanceof RpcError ? e : new RemoteError(e), null);
    }
    this.pump();
  }

  /** Sends waiting calls while the window has room. */
  private pump(): void {
    for (let call = this.throttler.next(); call; call = this.throttler.next()) this.transmit(call);
    if (this._state === 'closing') this.endIfIdle();
  }

  private tick(now: number): void {
    if (this.received) {
      this.received = false;
      this.lastReceived = now;
    }
    // Expired calls free window slots (or, closing, may leave the stream idle): pump after.
    if (this.deadlines.sweep(this.pace.elapsed, this.expire) !== 0) this.pump();
    this.keepalive(now);
  }

  /** Fails a call past its deadline: on the wire (Timeout, may have run) or still waiting (never sent). */
  private readonly expire = (call: Call): void => {
    if (call.done) return;
    if (call.seq === 0) {
      this.throttler.settled();
      call.finish(new RpcError(ErrorCode.Timeout, `call waited ${call.timeoutMs} ms for the window and was never sent`, { retry: 'safe' }), null);
    } else {
      this.pending.delete(call.seq);
      this.throttler.inFlight--;
      call.finish(new RpcError(ErrorCode.Timeout, `no reply from ${this.remote} within ${call.timeoutMs} ms`), null);
    }
  };

  /** The answer to the ping out: wakes `ping()` callers. */
  private pong(): void {
    this.pingSeq = 0;
    if (this.pongWaiters.length === 0) return;
    const waiters = this.pongWaiters;
    this.pongWaiters = [];
    for (const w of waiters) w.resolve();
  }

  private keepalive(now: number): void {
    if (this._state === 'closed') return;
    // A ping out is checked whether keepalive is on or not: `ping()` sends one too.
    if (this.pingSeq !== 0) {
      if (now - this.pingSentAt < this.keepaliveTimeoutMs) return;
      const why = `peer ${this.remote} did not answer a ping within ${this.keepaliveTimeoutMs} ms`;
      this.logger.warn({ remote: this.remote }, why);
      const dead = new Error(why);
      this.shutdown(dead, dead);
      this.conn.close();
      return;
    }
    if (this.keepaliveMs > 0 && now - this.lastReceived >= this.keepaliveMs) this.sendPing(now);
  }

  private endIfIdle(): void {
    if (this.pending.size === 0 && this.throttler.queued === 0) this.conn.end();
  }

  private failAll(cause: Error): void {
    const calls = [...this.pending.values()];
    this.pending.clear();
    this.deadlines.clear();
    this.throttler.inFlight = 0;
    for (const call of calls) call.finish(new RpcError(ErrorCode.IO, `connection to ${this.remote} lost: ${cause.message}`, { cause }), null);
    for (const call of this.throttler.drain()) {
      call.finish(new RpcError(ErrorCode.IO, `connection to ${this.remote} lost before the call was sent`, { cause, retry: 'safe' }), null);
    }
    const waiters = this.pongWaiters;
    this.pongWaiters = [];
    for (const w of waiters) w.reject(new RpcError(ErrorCode.IO, `connection to ${this.remote} lost before a ping was answered: ${cause.message}`, { cause }));
  }

  private onClosed(err: Error | undefined): void {
    if (err && this._state !== 'closed') this.logger.warn({ remote: this.remote, err }, 'stream closed');
    this.shutdown(err ?? new Error('closed by peer'), err);
  }

  /** The one way to the closed state: fail what is left, stop the ticker, wake `closed()` waiters. */
  private shutdown(cause: Error, err?: Error): void {
    if (this._state === 'closed') return;
    this._state = 'closed';
    this.closeError = err;
    this.pace.stop();
    if (this.onClose) {
      try {
        this.onClose(err);
      } catch (e) {
        this.logger.error({ remote: this.remote, err: e }, 'onClose hook threw');
      }
    }
    this.failAll(cause);
    for (const w of this.closedWaiters.splice(0)) w(this.closeError);
  }
}

const tooLarge = (what: string, n: number, max: number): RpcError =>
  new RpcError(ErrorCode.FrameTooLarge, `${what} of ${n} bytes exceeds the limit of ${max}`);
