import { setMaxListeners } from 'node:events';
import { ErrorCode, RpcError, type ErrorPayload } from '@skein/core';
import { LazyAbort, type ConnInfo, type ConnKind, type ReplyLimits, type Responder, type ServerRequest } from '@skein/stream';
import type { HandlersRunningOn } from './handlers-running-on.js';
import type { ConnDesc } from './messages.js';
import type { ReplyPacker } from './reply-batch.js';
import type { ReplyHeadsAhead } from './reply-heads-ahead.js';
import type { ReverseOutbox } from './reverse-outbox.js';
import { WorkerCaller } from './worker-caller.js';

/**
 * Nothing is refused here: the pool answers through the real connection's request, which holds
 * the reply to the client's limits and fails just that call when it is over them.
 */
const CHECKED_BY_THE_POOL: ReplyLimits = { maxMessage: Number.MAX_SAFE_INTEGER, maxBlob: Number.MAX_SAFE_INTEGER, maxError: Number.MAX_SAFE_INTEGER };

/**
 * A connection as a worker sees it: the answers of its requests go into the worker's reply
 * batch, keyed by the pool's call id (which a request carries where a connection's requests
 * carry the wire seq: `seqLo`).
 */
export class WorkerConn implements Responder {
  readonly info: ConnInfo;
  readonly peerLimits = CHECKED_BY_THE_POOL;
  principal: unknown;
  private kind: ConnKind | undefined;
  /** The largest reply head its client reads, as the pool described it (0: none). */
  private replyRoom: number;
  /**
   * What aborts its plain calls (the pool says the connection closed), as a server connection's
   * `callAbort`: a plain call's `req.onAbort` (api's `ctx`, a call made with `{ ctx }`) hooks it in
   * a list, not as a listener on a signal every call of the connection shares (each add walks the
   * others); `info.signal` is its signal, made when first read, many listeners allowed.
   */
  readonly callAbort = new LazyAbort(true);
  /** Handlers' `conn.draining`: made on first read, aborted when the pool says the server began to close. */
  private drainCtl: AbortController | undefined;
  private drainReason: unknown = undefined;
  /** Calls both ways, through the pool: only when the connection agreed them, as in process. */
  private readonly caller: WorkerCaller | undefined;

  constructor(
    desc: ConnDesc,
    private readonly replies: ReplyPacker,
    /** An answer to the call was written (the one answer: a request writes no second). */
    private readonly onWrite: (callId: number) => void,
    /** An answer that is none (not bytes, no error code): the pool fails the call Internal, logged, saying `why`. */
    private readonly refuse: (callId: number, why: string) => void,
    outbox: ReverseOutbox,
    /** The worker's handlers that run on past their answers, told to the pool (see handlers-running-on.ts). */
    private readonly runningOn: HandlersRunningOn,
    /** The reply heads sent before their answers (calls with a deadline), which the answers do not send again. */
    private readonly ahead: ReplyHeadsAhead,
  ) {
    this.principal = desc.principal;
    this.kind = desc.kind;
    this.replyRoom = desc.replyMetadataRoom ?? 0;
    this.caller = desc.callsBack ? new WorkerCaller(desc.key, desc.remote, outbox, desc.callerTimeoutMs) : undefined;
    const self = this;
    this.info = {
      id: desc.id,
      remote: desc.remote,
      transport: desc.transport,
      get signal() {
        return self.callAbort.signal;
      },
      identity: desc.identity,
      caller: this.caller,
      get principal() {
        return self.principal;
      },
      get kind() {
        return self.kind;
      },
      get draining() {
        return self.drainingSignal();
      },
    };
  }

  private drainingSignal(): AbortSignal {
    if (this.drainCtl === undefined) {
      this.drainCtl = new AbortController();
      // Shared by the connection's calls, as its signal is: bounded by the calls in flight.
      setMaxListeners(0, this.drainCtl.signal);
      if (this.drainReason !== undefined) this.drainCtl.abort(this.drainReason);
    }
    return this.drainCtl.signal;
  }

  /** The server this connection came to began to close (the pool's `draining` message, or its description). */
  drain(): void {
    if (this.drainReason !== undefined) return;
    this.drainReason = new RpcError(ErrorCode.Closed, 'the server is closing');
    this.drainCtl?.abort(this.drainReason);
  }

  /** The pool sends a connection again when its principal or kind changed. */
  update(desc: ConnDesc): void {
    this.principal = desc.principal;
    this.kind = desc.kind;
    this.replyRoom = desc.replyMetadataRoom ?? 0;
  }

  /** As the real connection's: a handler's `setReplyMetadata` is checked here against it, and the entry refused as in process. */
  replyMetadataRoom(): number {
    return this.replyRoom;
  }

  /** The head goes into the batch just before its answer, unless it went ahead unchanged; the pool sets it on the real request (`setReplyMetadataHead`). */
  writeReplyMetadata(callId: number, _hi: number, head: Uint8Array): void {
    if (!this.ahead.sentAlready(callId)) this.replies.head(callId, head);
  }

  close(): void {
    this.callAbort.fire();
  }

  /** The request has checked that `msg` and `blob` are bytes (ServerRequest.reply). */
  writeOk(callId: number, _hi: number, msg: Uint8Array, blob: Uint8Array): boolean {
    this.replies.ok(callId, msg, blob);
    this.onWrite(callId);
    return true;
  }

  writeError(callId: number, _hi: number, code: ErrorCode, detail?: string): void {
    this.replies.error(callId, code, detail);
    this.onWrite(callId);
  }

  /** The request has checked the payload: a u32, or bytes (ServerRequest.failCustom). */
  writeCustomError(callId: number, _hi: number, payload: ErrorPayload): boolean {
    this.replies.custom(callId, payload);
    this.onWrite(callId);
    return true;
  }

  writeTooLarge(callId: number, _hi: number, detail: string): void {
    this.writeError(callId, 0, ErrorCode.FrameTooLarge, detail);
  }

  /** Logged and answered on the pool's thread, which names the action and knows whether to expose `why`. */
  writeRefused(callId: number, _hi: number, _action: string | number, why: string): void {
    this.refuse(callId, why);
    this.onWrite(callId);
  }

  settled(): void {}

  /** Counted by the pool's server against the real connection, as a handler there is. */
  abandonedRunning(req: ServerRequest): boolean {
    return this.runningOn.runsOn(req);
  }

  abandonedEnded(req: ServerRequest): void {
    this.runningOn.handlerEnded(req);
  }
}
