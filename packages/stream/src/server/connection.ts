import { EMPTY_BYTES, ErrorCode, FrameError, takeBytes, type ErrorPayload, type FrameConn, type FrameHandlers, type Logger } from '@skein/core';
import { ActionNames } from '../wire/action-names.js';
import type { Dispatch } from './dispatch.js';
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
import { customErrorResponseHalves, errorResponseHalves } from '../wire/responses.js';
import { WIRE_REPLY_LIMITS, type ReplyLimits } from '../wire/limits.js';
import { HelloError } from '../wire/hello.js';
import { answerHello } from './hello-answer.js';
import { ServerRequest, type ConnInfo, type Responder } from './request.js';

export interface ServerConnOptions {
  id: number;
  transport: string;
  dispatch: Dispatch;
  logger: Logger;
  /** Requests being handled at once before reading pauses. */
  maxInFlight: number;
  onClosed(conn: ServerConn): void;
}

/**
 * The server's side of one connection: the reader parses requests and hands them to Dispatch
 * (answering pings itself); the writer is the transport's batch, sent at the end of each
 * turn or sooner once it is big (so a long turn's first answers leave early), and responses
 * leave in completion order.
 */
export class ServerConn implements FrameHandlers, Responder {
  inFlight = 0;
  /**
   * Set per call, cleared per tick: cheaper than reading the clock for every frame. Pings and the
   * hello do not set it: a peer that only pings is idle, however often it pings.
   */
  sawCall = true;
  /** When the server's tick last saw this connection busy (a call, or a request in flight). */
  lastFrameAt = 0;
  /** What the client takes in a reply: the wire's ceilings until its hello says otherwise. */
  peerLimits: ReplyLimits = WIRE_REPLY_LIMITS;
  private paused = false;
  private draining = false;
  private peerEnded = false;
  private closed = false;
  private abort: AbortController | undefined;
  private _info: ConnInfo | undefined;
  private readonly actionNames = new ActionNames();
  private readonly header = new Uint8Array(RESPONSE_HEADER_LENGTH);

  constructor(
    readonly conn: FrameConn,
    private readonly opts: ServerConnOptions,
  ) {}

  get info(): ConnInfo {
    // Built on first use: most handlers never look at the connection, and an AbortController per
    // connection is only worth making when someone listens to it.
    if (!this._info) {
      const self = this;
      this._info = {
        id: this.opts.id,
        remote: this.conn.remote,
        transport: this.opts.transport,
        get signal() {
          self.abort ??= new AbortController();
          if (self.closed || self.peerEnded) self.abort.abort();
          return self.abort.signal;
        },
      };
    }
    return this._info;
  }

  frame(bytes: Uint8Array, start: number, end: number): void {
    // Fields are read where they lie, and a view is made only where the handler needs one: a
    // request costs no header object and no empty views (they add up at a million a second).
    const rawAction = u32(bytes, start + REQ_ACTION_AT);
    const isString = (rawAction & ACTION_STRING_BIT) !== 0;
    const seqLo = u32(bytes, start + SEQ_AT);
    const seqHi = u32(bytes, start + SEQ_AT + 4);
    if (rawAction === PING_ACTION) return this.send(seqLo, seqHi, EMPTY_BYTES, EMPTY_BYTES);
    if (rawAction === HELLO_ACTION) return this.greet(bytes, start, seqLo, seqHi);
    this.sawCall = true;
    // Closing: a request that raced the close is refused unrun, so the client may retry it elsewhere.
    if (this.draining) return this.writeError(seqLo, seqHi, ErrorCode.Closed);
    const nameAt = start + REQUEST_HEADER_LENGTH;
    const msgAt = isString ? nameAt + (rawAction & ACTION_LEN_MASK) : nameAt;
    let name = '';
    if (isString) {
      try {
        name = this.actionNames.decode(bytes, nameAt, msgAt);
      } catch {
        throw new FrameError('action is not valid UTF-8', errorResponseHalves(seqLo, seqHi, ErrorCode.Decode));
      }
    }
    const msgEnd = msgAt + u32(bytes, start + REQ_MSG_LEN_AT);
    const msg = msgEnd === msgAt ? EMPTY_BYTES : takeBytes(bytes, msgAt, msgEnd);
    const blob = msgEnd === end ? EMPTY_BYTES : takeBytes(bytes, msgEnd, end);
    const req = new ServerRequest(this, seqLo, seqHi, isString ? -1 : rawAction, name, msg, blob);
    if (++this.inFlight >= this.opts.maxInFlight) this.pause();
    try {
      this.opts.dispatch.dispatch(req);
    } catch (err) {
      this.opts.logger.error({ err, action: req.action, remote: this.conn.remote }, 'dispatch threw');
      req.fail(ErrorCode.Internal);
    }
  }

  drain(): void {
    this.maybeResume();
  }

  /**
   * The client half-closed. A Skein client does that only once nothing is pending, and a peer
   * that drops a connection looks the same from here, so handlers still running are told
   * (their signal aborts); answers they still give are written, then our side ends.
   */
  end(): void {
    this.peerEnded = true;
    this.abort?.abort();
    this.endIfDone();
  }

  close(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (err) {
      const why = err instanceof FrameError ? 'malformed frame' : 'connection error';
      this.opts.logger.warn({ remote: this.conn.remote, reason: err.message }, `closing connection: ${why}`);
    }
    this.abort?.abort();
    this.opts.onClosed(this);
  }

  /** Graceful close: stop reading new requests, finish those in flight, then end. */
  startDrain(): void {
    this.draining = true;
    this.endIfDone();
  }

  forceClose(): void {
    this.conn.close();
  }

  /** Called once per answered request. */
  settled(): void {
    this.inFlight--;
    this.maybeResume();
    this.endIfDone();
  }

  writeOk(seqLo: number, seqHi: number, msg: Uint8Array, blob: Uint8Array): boolean {
    if (msg.length > this.peerLimits.maxMessage || blob.length > this.peerLimits.maxBlob) return false;
    this.send(seqLo, seqHi, msg, blob);
    return true;
  }

  writeError(seqLo: number, seqHi: number, code: ErrorCode, detail?: string): void {
    if (this.closed) return;
    let response = errorResponseHalves(seqLo, seqHi, code, detail);
    // A detail the client cannot take is dropped: the bare code still fails only this call.
    if (detail && response.length - RESPONSE_HEADER_LENGTH > this.peerLimits.maxError) response = errorResponseHalves(seqLo, seqHi, code);
    this.sendWhole(response);
  }

  writeCustomError(seqLo: number, seqHi: number, payload: ErrorPayload): boolean {
    if (this.closed) return true;
    const response = customErrorResponseHalves(seqLo, seqHi, payload);
    if (response.length - RESPONSE_HEADER_LENGTH > this.peerLimits.maxError) return false;
    this.sendWhole(response);
    return true;
  }

  writeTooLarge(seqLo: number, seqHi: number, detail: string): void {
    this.opts.logger.warn({ remote: this.conn.remote, reason: detail }, 'reply over the client\'s limits: failing its call');
    this.writeError(seqLo, seqHi, ErrorCode.FrameTooLarge, detail);
  }

  /** An ok response, unchecked: the limits are the caller's business (a pong and the hello's answer always fit). */
  private send(seqLo: number, seqHi: number, msg: Uint8Array, blob: Uint8Array): void {
    if (this.closed) return;
    // One reused header buffer: the transport copies parts this small at once.
    writeResponseHeaderHalves(this.header, ResponseFlag.Ok, msg.length, seqLo, seqHi, blob.length);
    this.conn.write(this.header);
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

  /**
   * The hello, answered here and now like a ping: requests are read in order, so every request
   * after it is answered within the limits it gives.
   */
  private greet(bytes: Uint8Array, start: number, seqLo: number, seqHi: number): void {
    const msgAt = start + REQUEST_HEADER_LENGTH;
    let outcome;
    try {
      outcome = answerHello(bytes, msgAt, msgAt + u32(bytes, start + REQ_MSG_LEN_AT));
    } catch (err) {
      if (!(err instanceof HelloError)) throw err;
      this.opts.logger.debug({ remote: this.conn.remote, reason: err.message }, 'bad hello: answered Decode');
      return this.writeError(seqLo, seqHi, ErrorCode.Decode);
    }
    if (outcome.peerLimits) this.peerLimits = outcome.peerLimits;
    this.send(seqLo, seqHi, outcome.answer, EMPTY_BYTES);
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.conn.pause();
  }

  private maybeResume(): void {
    if (!this.paused || this.draining || this.closed) return;
    if (this.inFlight < this.opts.maxInFlight && !this.conn.congested) {
      this.paused = false;
      this.conn.resume();
    }
  }

  private endIfDone(): void {
    if ((this.draining || this.peerEnded) && this.inFlight === 0 && !this.closed) this.conn.end();
  }
}

