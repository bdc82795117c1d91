import { EMPTY_BYTES, ErrorCode, RpcError, type ErrorPayload } from '@skein/core';
import { seqBytesOf } from '../wire/protocol.js';

/** Facts about the connection a request came in on. */
export interface ConnInfo {
  /** Unique per server. */
  readonly id: number;
  readonly remote: string;
  readonly transport: string;
  /** Aborts when the connection closes. */
  readonly signal: AbortSignal;
}

/**
 * Where a request's answer goes: the server connection it came in on. A contract of its own so
 * that a request knows only how to answer, not the connection that implements it.
 */
export interface Responder {
  readonly info: ConnInfo;
  writeOk(seqLo: number, seqHi: number, msg: Uint8Array, blob: Uint8Array): void;
  writeError(seqLo: number, seqHi: number, code: ErrorCode, detail?: string): void;
  writeCustomError(seqLo: number, seqHi: number, payload: ErrorPayload): void;
  /** One answer was written: the slot it held is free. */
  settled(): void;
}

/**
 * One request and the way to answer it. Exactly one answer is sent; later answers are ignored
 * (and so are answers after the connection closed).
 */
export class ServerRequest {
  private answered = false;

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

  get isAnswered(): boolean {
    return this.answered;
  }

  /** Answers with an ok response. */
  reply(msg: Uint8Array = EMPTY_BYTES, blob: Uint8Array = EMPTY_BYTES): void {
    if (!this.claim()) return;
    this.owner.writeOk(this.seqLo, this.seqHi, msg, blob);
    this.owner.settled();
  }

  /**
   * Answers with a built-in error (travels as its reserved `rpc_*` string). `detail`, when given,
   * travels after the string and becomes the client's error message.
   */
  fail(err: RpcError | ErrorCode, detail?: string): void {
    const code = typeof err === 'number' ? err : err.code;
    if (!this.claim()) return;
    this.owner.writeError(this.seqLo, this.seqHi, code, detail);
    this.owner.settled();
  }

  /** Answers with a method's custom error: a number (flag 1) or bytes (flag 2). */
  failCustom(payload: ErrorPayload): void {
    if (typeof payload === 'number' && !(Number.isInteger(payload) && payload >= 0 && payload <= 0xffff_ffff)) {
      this.fail(new RpcError(ErrorCode.Internal, `custom error number ${payload} is not a u32`));
      return;
    }
    if (!this.claim()) return;
    this.owner.writeCustomError(this.seqLo, this.seqHi, payload);
    this.owner.settled();
  }

  /** First answer wins. The owner is told after the answer is written: the last one may end the connection. */
  private claim(): boolean {
    if (this.answered) return false;
    this.answered = true;
    return true;
  }
}
