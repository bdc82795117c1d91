import { CODE_INFO, EMPTY_BYTES, ErrorCode, FrameError, RpcError, takeBytes, type Clock, type ErrorPayload, type Logger } from '@skein/core';
import { ActionNames } from '../wire/action-names.js';
import { actionName } from '../wire/error-detail.js';
import { builtinErrorBytes, escapeCustomBytes, fittedDetail } from '../wire/error-strings.js';
import { frameCapCutLimits, replyLimits, type ReplyLimits } from '../wire/limits.js';
import { ACTION_LEN_MASK, ACTION_STRING_BIT, REQUEST_HEADER_LENGTH, RES_BLOB_LEN_AT, RES_FLAG_AT, RES_MSG_LEN_AT, RESPONSE_HEADER_LENGTH, SEQ_AT, putU32, u32, writeRequestHeader } from '../wire/protocol.js';
import { ANSWER_FLAG_FIELD, REVERSE_ACTION_FIELD, REVERSE_ANSWER_ACTION, REVERSE_KIND, readReverseAnswer, reverseOfferEntry } from '../wire/reverse-calls.js';
import type { HelloEntry } from '../wire/hello.js';
import { REMAINING_FIELD, REVERSE_CANCEL_FLAG, REVERSE_CONTROL_ENTRY, REVERSE_CONTROL_KIND, TIMED_REVERSE_CALL_FLAG } from '../wire/reverse-control.js';
import { CallHeadError, NO_DEADLINE, NO_METADATA, decodeCallHead, type Metadata } from '../wire/call-head.js';
import { describeHeadOver, headOver } from '../wire/head-size.js';
import { HEAD_LEN_FIELD, HEADED_REVERSE_CALL_FLAG, REVERSE_HEADS_KIND, reverseHeadsOfferEntry } from '../wire/reverse-heads.js';
import { handlerEndToldBy, type Dispatch } from '../server/dispatch.js';
import { ReverseControls } from './reverse-controls.js';
import { ServerRequest, type ConnInfo, type Responder } from '../server/request.js';
import { WaitingLine, type Waiter } from '../internals/waiting-line.js';
import { LazyAbort } from '../internals/lazy-abort.js';
import { frameCapWords } from '../wire/frame-cap-words.js';

/** What a ReverseDispatch writes through: the stream's connection. */
export interface ReverseLink {
  readonly remote: string;
  readonly transport: string;
  write(part: Uint8Array): void;
  /** The connection's send buffer is over its high-water mark: the server is not reading what we write. */
  readonly congested: boolean;
  /** The last reverse call was answered: a closing stream may end now. */
  idle(): void;
}

export interface ServeSettings {
  /** What runs the server's calls: a `createServiceDispatch(...)`, a router, a WorkerPool. */
  readonly dispatch: Dispatch;
  /** Reverse calls run at once; told to the server in the hello, which keeps to it. */
  readonly window: number;
  /**
   * The largest reverse call head read (told in the hello: wire/reverse-heads.ts), counted as a
   * server counts a forward head (wire/head-size.ts); one over it is refused FrameTooLarge.
   */
  readonly maxHead: number;
}

const TWO_32 = 0x1_0000_0000;

/**
 * Bytes of refusals (a reverse call past the window, while closing, with an action too long or
 * not UTF-8) written while the send buffer stays full, before the server is taken for a
 * broken one and its connection closed. The stream reads on while congested, so a
 * server that sends such calls and never reads would otherwise grow our memory by a refusal
 * (some 45 bytes) per call of 24, without bound. A server that keeps to the window has at most
 * a window of answers unread: far below this.
 */
const MAX_REFUSED_WHILE_CONGESTED = 1024 * 1024;

/** A reverse call held for a drain. Settled before its turn only by its deadline or a cancel (its control answers it), then skipped. */
interface HeldCall extends Waiter {
  done: boolean;
  readonly req: ServerRequest;
  /** Unhooks the line from the call's abort, once it leaves the line to run. */
  unhook: (() => void) | undefined;
}

/**
 * The connecting side of calls both ways (wire/reverse-calls.ts): the server's reverse calls
 * arrive as response frames with their own flag, run through the stream's `serve` dispatch as
 * ServerRequests (so the same services, filters and router serve them as on a server), and their
 * answers go back as requests with REVERSE_ANSWER_ACTION. A reverse call past the window offered
 * is refused Overloaded, and one while the stream closes Closed, both bare: never run. One that
 * comes while the connection's send buffer is full waits for it to drain before it runs: the
 * stream does not stop reading (two peers could then each wait for the other to read), so the
 * window alone bounds what the server makes it hold.
 */
export class ReverseDispatch implements Responder {
  inFlight = 0;
  /** Calls read while the send buffer was full, waiting for it to drain (counted in `inFlight`); none settles before its turn. */
  private readonly held = new WaitingLine<HeldCall>();
  /** What the server reads in an answer (its hello answer said); nothing until then. */
  peerLimits: ReplyLimits = replyLimits(0, 0);
  /** What the server's answer entry said it reads in an answer, the flag byte taken off the message: kept, as its max_frame may cut them later. */
  private answerLimits: { maxMessage: number; maxBlob: number } | undefined;
  /** The largest frame the server's transport carries (its hello's answer, kind 26's max_frame), else Infinity. */
  private maxFrame = Infinity;
  private agreed = false;
  private closing = false;
  private closed = false;
  /** What aborts the calls it serves (its connection closed): made when a call or handler first listens. */
  private abort: LazyAbort | undefined;
  /** Handlers' `conn.draining`: fires when the stream begins to close. */
  private readonly drainSignal = new LazyAbort(true);
  private _info: ConnInfo | undefined;
  private readonly names = new ActionNames();
  /** A request header and the answer's flag byte, written as one part. */
  private readonly head = new Uint8Array(REQUEST_HEADER_LENGTH + ANSWER_FLAG_FIELD);
  /** Bytes of refusals written while congested, since the buffer was last seen under its mark (see MAX_REFUSED_WHILE_CONGESTED). */
  private refusedWhileCongested = 0;
  /** The server sends deadlines and cancels (its hello answer said so). */
  private controlled = false;
  /** The server sends heads (its hello answer said so, beside deadlines and cancels). */
  private headed = false;
  /** The calls that came with a deadline, made at the first (wire/reverse-control.ts). */
  private controls: ReverseControls | undefined;
  /**
   * Handlers still running after the server cancelled their calls (or their deadline passed):
   * their window slots are free, so that a server that cancels every call it makes could
   * otherwise run any number at once. Counted only where the dispatch tells handler ends.
   */
  private abandoned = 0;

  constructor(
    private readonly link: ReverseLink,
    private readonly serve: ServeSettings,
    /** The stream's own limit on action strings. */
    private readonly maxAction: number,
    private readonly logger: Logger,
    /** What deadlines are kept by. */
    private readonly clock: Clock,
  ) {}

  get info(): ConnInfo {
    if (!this._info) {
      const self = this;
      this._info = {
        id: 0,
        remote: this.link.remote,
        transport: this.link.transport,
        get draining() {
          return self.drainSignal.signal;
        },
        get signal() {
          return self.callAbort.signal;
        },
      };
    }
    return this._info;
  }

  /** As Responder's: one LazyAbort for the calls it serves, made when first listened to. */
  get callAbort(): LazyAbort {
    const a = (this.abort ??= new LazyAbort(true));
    if (this.closed) a.fire();
    return a;
  }

  /** What the stream's hello offers: calls both ways, at most `window` at once, with their deadlines and cancels, and heads. */
  get offers(): HelloEntry[] {
    return [reverseOfferEntry(this.serve.window), REVERSE_CONTROL_ENTRY, reverseHeadsOfferEntry(this.serve.maxHead)];
  }

  /**
   * The hello's answer is in: reverse calls are read only if the server agreed them, its entry
   * saying what it reads in an answer.
   */
  agree(answer: readonly HelloEntry[]): void {
    const limits = readReverseAnswer(answer.find((e) => e.kind === REVERSE_KIND)?.value);
    if (!limits) return;
    this.agreed = true;
    this.controlled = answer.some((e) => e.kind === REVERSE_CONTROL_KIND);
    this.headed = this.controlled && answer.some((e) => e.kind === REVERSE_HEADS_KIND);
    // The flag byte travels in the message too.
    this.answerLimits = { maxMessage: Math.max(0, limits.maxMessage - ANSWER_FLAG_FIELD), maxBlob: limits.maxBlob };
    this.fitLimits();
  }

  /**
   * The server's hello's answer names the largest frame its transport carries (kind 26's
   * max_frame): an answer over it would cost the connection (1009 over WebSocket), so answers are
   * held within it as requests are, each part and both together.
   */
  narrowFrame(maxFrame: number): void {
    this.maxFrame = maxFrame;
    this.fitLimits();
  }

  /** Words for an answer refused as over `peerLimits` (Responder's): the server's frame first, as that is what would have cost the connection. */
  overLimitsWords(msg: number, blob: number): string {
    const frame = REQUEST_HEADER_LENGTH + ANSWER_FLAG_FIELD + msg + blob;
    if (frame > this.maxFrame && frameCapCutLimits(this.peerLimits)) {
      return `reverse answer frame of ${frame} bytes exceeds ${frameCapWords(`${this.link.remote}'s`, this.maxFrame, 'server')}`;
    }
    if (msg > this.peerLimits.maxMessage) return `reverse answer message of ${msg} bytes exceeds ${this.link.remote}'s limit of ${this.peerLimits.maxMessage}`;
    return `reverse answer blob of ${blob} bytes exceeds ${this.link.remote}'s limit of ${this.peerLimits.maxBlob}`;
  }

  /**
   * Words for a custom error refused as over `peerLimits.maxError` (Responder's): the server's
   * limits, as for an answer, not a client's (a server's words for its own replies).
   */
  errorOverLimitsWords(bytes: number): string {
    const frame = REQUEST_HEADER_LENGTH + ANSWER_FLAG_FIELD + bytes;
    if (frame > this.maxFrame && frameCapCutLimits(this.peerLimits)) return `reverse answer error frame of ${frame} bytes exceeds ${frameCapWords(`${this.link.remote}'s`, this.maxFrame, 'server')}`;
    return `reverse answer error of ${bytes} bytes exceeds ${this.link.remote}'s limit of ${this.peerLimits.maxError} (its hello's answer)`;
  }

  /** `peerLimits` from the answer's entry and the server's frame: an answer is a request frame, its header and flag byte before the body. */
  private fitLimits(): void {
    if (this.answerLimits === undefined) return;
    const { maxMessage, maxBlob } = this.answerLimits;
    if (this.maxFrame === Infinity) {
      this.peerLimits = replyLimits(maxMessage, maxBlob);
      return;
    }
    // replyLimits cuts to what a response frame holds: given the room an answer's frame leaves as such a frame's.
    const room = Math.max(0, this.maxFrame - REQUEST_HEADER_LENGTH - ANSWER_FLAG_FIELD);
    const { maxFrame: _responseFrame, ...cut } = replyLimits(maxMessage, maxBlob, room + RESPONSE_HEADER_LENGTH);
    this.peerLimits = cut;
  }

  /**
   * A reverse call at `bytes[start, end)`: a response frame with REVERSE_CALL_FLAG,
   * TIMED_REVERSE_CALL_FLAG (its remaining time in front) or HEADED_REVERSE_CALL_FLAG (its head in
   * front, wire/reverse-heads.ts); or a cancel, REVERSE_CANCEL_FLAG.
   */
  frame(bytes: Uint8Array, start: number, end: number): void {
    if (!this.agreed) throw new FrameError('reverse call on a connection whose hello did not agree them');
    const flag = bytes[start + RES_FLAG_AT];
    const headed = flag === HEADED_REVERSE_CALL_FLAG;
    // A headed call is a timed one too: its head carries its deadline, and the server may cancel it.
    const timed = headed || flag === TIMED_REVERSE_CALL_FLAG;
    if ((timed || flag === REVERSE_CANCEL_FLAG) && !this.controlled) throw new FrameError('reverse deadline or cancel on a connection whose hello did not agree them');
    if (headed && !this.headed) throw new FrameError('reverse call head on a connection whose hello did not agree them');
    const seqLo = u32(bytes, start + SEQ_AT);
    const seqHi = u32(bytes, start + SEQ_AT + 4);
    if (flag === REVERSE_CANCEL_FLAG) return this.controls?.cancel(seqLo + seqHi * TWO_32);
    let bodyAt = start + RESPONSE_HEADER_LENGTH;
    const msgEnd = bodyAt + u32(bytes, start + RES_MSG_LEN_AT);
    let remainingMs: number | undefined;
    // A headed call's head, `[headAt, headEnd)`: its remaining time, then its entries.
    let headAt = 0;
    let headEnd = 0;
    if (headed) {
      if (msgEnd - bodyAt < HEAD_LEN_FIELD) throw new FrameError('headed reverse call cut short');
      const headLen = u32(bytes, bodyAt);
      // Its length says where the action starts: one that runs past the message is a broken frame.
      if (headLen > msgEnd - bodyAt - HEAD_LEN_FIELD) throw new FrameError(`headed reverse call with a head of ${headLen} bytes in a message of ${msgEnd - bodyAt}`);
      headAt = bodyAt + HEAD_LEN_FIELD;
      headEnd = headAt + headLen;
      // One too short for its remaining time fails its call alone below (Decode), as a forward head does.
      const remaining = headLen < REMAINING_FIELD ? NO_DEADLINE : u32(bytes, headAt);
      if (remaining !== NO_DEADLINE) remainingMs = remaining;
      bodyAt = headEnd;
    } else if (timed) {
      if (msgEnd - bodyAt < REMAINING_FIELD) throw new FrameError('timed reverse call cut short');
      const remaining = u32(bytes, bodyAt);
      if (remaining !== NO_DEADLINE) remainingMs = remaining;
      bodyAt += REMAINING_FIELD;
    }
    if (msgEnd - bodyAt < REVERSE_ACTION_FIELD || msgEnd + u32(bytes, start + RES_BLOB_LEN_AT) !== end) throw new FrameError('reverse call cut short');
    const rawAction = u32(bytes, bodyAt);
    const nameAt = bodyAt + REVERSE_ACTION_FIELD;
    const isString = (rawAction & ACTION_STRING_BIT) !== 0;
    const nameLength = isString ? rawAction & ACTION_LEN_MASK : 0;
    if (nameAt + nameLength > msgEnd) throw new FrameError('reverse call action runs past its message');
    if (nameLength > this.maxAction) return this.refuse(seqLo, seqHi, ErrorCode.FrameTooLarge, `action of ${nameLength} bytes exceeds ${this.maxAction}`);
    // A head over the bound fails its call alone, as a forward head over a server's max_head does:
    // counted before anything is decoded, its entries too (wire/head-size.ts).
    const over = headed ? headOver(bytes, headAt, headEnd, this.serve.maxHead) : undefined;
    if (over !== undefined) return this.refuse(seqLo, seqHi, ErrorCode.FrameTooLarge, `call head of ${describeHeadOver(over)} exceeds this side's ${this.serve.maxHead}`);
    // Refused unrun: the server may send them elsewhere.
    if (this.closing || this.closed) return this.refuse(seqLo, seqHi, ErrorCode.Closed);
    // Past the window, or with twice the window of handlers running, those the server gave up on included.
    if (this.inFlight >= this.serve.window || this.inFlight + this.abandoned >= 2 * this.serve.window) return this.refuse(seqLo, seqHi, ErrorCode.Overloaded);
    const seq = seqLo + seqHi * TWO_32;
    // Seqs name the calls a cancel reaches: a second one under a seq still running is refused, unrun.
    if (timed && this.controls?.has(seq) === true) return this.refuse(seqLo, seqHi, ErrorCode.InvalidArgument, `reverse call seq ${seq} is taken by one still running`);
    let name = '';
    if (isString) {
      try {
        name = this.names.decode(bytes, nameAt, nameAt + nameLength);
      } catch {
        return this.refuse(seqLo, seqHi, ErrorCode.Decode);
      }
    }
    let metadata: Metadata = NO_METADATA;
    if (headed) {
      try {
        metadata = decodeCallHead(bytes, headAt, headEnd).metadata;
      } catch (err) {
        if (!(err instanceof CallHeadError)) throw err;
        return this.refuse(seqLo, seqHi, ErrorCode.Decode, err.message);
      }
    }
    const msgAt = nameAt + nameLength;
    const msg = msgAt === msgEnd ? EMPTY_BYTES : takeBytes(bytes, msgAt, msgEnd);
    const blob = msgEnd === end ? EMPTY_BYTES : takeBytes(bytes, msgEnd, end);
    const req = new ServerRequest(this, seqLo, seqHi, isString ? -1 : rawAction, name, msg, blob);
    this.inFlight++;
    // Its deadline runs from its arrival, held for a drain or not; one passed already is answered Timeout, unrun.
    if (timed && !(this.controls ??= new ReverseControls(this.clock)).track(req, seq, remainingMs, metadata)) return;
    // The server is not reading our answers: run now, this call's answer would only pile up
    // behind theirs, and a server sending past the window could grow that without bound. The
    // stream keeps reading (its own calls' answers come on this connection too), so the call
    // waits here, in the window, until the send buffer drains (as a server stops reading).
    if (this.held.size !== 0) this.drained();
    if (this.link.congested || this.held.size !== 0) return this.hold(req);
    this.run(req);
  }

  /**
   * Holds `req` for a drain. One its control answers meanwhile (a cancel, its deadline: its
   * window slot is free then) leaves the line's count at once and is never run; the line drops
   * it at its next compaction, so that what it keeps stays within about twice the window.
   */
  private hold(req: ServerRequest): void {
    const held: HeldCall = { done: false, req, unhook: undefined };
    this.held.push(held);
    if (req.control === undefined) return;
    held.unhook = req.control.onAbort(() => {
      held.done = true;
      this.held.settled();
      // Its handler never starts: it must not count as one running abandoned.
      req.handlerEnded();
    });
  }

  /** The connection's send buffer drained: the calls held for it run, in order, while it stays so (not those answered meanwhile: cancelled, past their deadline). */
  drained(): void {
    while (this.held.size !== 0 && !this.closed && !this.link.congested) {
      const held = this.held.shift()!;
      held.unhook?.();
      this.run(held.req);
    }
  }

  /**
   * Refuses a reverse call unrun, from the frame's own reading. While the send buffer is full,
   * past MAX_REFUSED_WHILE_CONGESTED bytes of such refusals the server is a broken one (it sends
   * what we refuse and reads none of it): its connection closes, as for any broken frame.
   */
  private refuse(seqLo: number, seqHi: number, code: ErrorCode, detail?: string): void {
    // Under the mark, what waits is the transport's to bound: the count starts again.
    if (!this.link.congested) this.refusedWhileCongested = 0;
    else {
      this.refusedWhileCongested += REQUEST_HEADER_LENGTH + ANSWER_FLAG_FIELD + CODE_INFO[code].wire.length + (detail === undefined ? 0 : detail.length + 1);
      if (this.refusedWhileCongested > MAX_REFUSED_WHILE_CONGESTED) {
        throw new FrameError(`the server sent reverse calls refused unrun (past the window offered, or broken) while reading none of their refusals: over ${MAX_REFUSED_WHILE_CONGESTED} bytes of them wait unread`);
      }
    }
    this.writeError(seqLo, seqHi, code, detail);
  }

  private run(req: ServerRequest): void {
    try {
      this.serve.dispatch.dispatch(req);
    } catch (err) {
      this.logger.error({ err, action: req.action, remote: this.link.remote }, 'dispatch of a reverse call threw');
      req.fail(ErrorCode.Internal);
    }
  }

  /**
   * The stream is closing: reverse calls still arriving are refused with Closed; those running
   * finish. Those held for a drain have not run: they are refused alike (bare, never ran), for
   * the close waits for every call of the window, and a server that never reads again would
   * hold it for good.
   */
  startClose(): void {
    this.closing = true;
    this.drainSignal.fire(new RpcError(ErrorCode.Closed, 'the client is closing'));
    for (const held of this.held.drain()) {
      held.unhook?.();
      held.req.fail(ErrorCode.Closed);
    }
  }

  /** The connection is gone (`cause`): handlers still running are told (their signal aborts); their answers are dropped. */
  close(cause: Error): void {
    this.closed = true;
    for (const held of this.held.drain()) held.unhook?.();
    this.controls?.close(cause);
    this.abort?.fire();
  }

  /** A call was cancelled, or its deadline passed, while its handler runs: counted (see `abandoned`) where the dispatch tells when it ends. */
  abandonedRunning(req: ServerRequest): boolean {
    if (!handlerEndToldBy(this.serve.dispatch, req)) return false;
    this.abandoned++;
    return true;
  }

  abandonedEnded(): void {
    this.abandoned--;
  }

  writeOk(seqLo: number, seqHi: number, msg: Uint8Array, blob: Uint8Array): boolean {
    const limits = this.peerLimits;
    if (msg.length > limits.maxMessage || blob.length > limits.maxBlob || msg.length + blob.length > (limits.maxBody ?? Infinity)) return false;
    this.answer(seqLo, seqHi, 0, msg, blob);
    return true;
  }

  writeError(seqLo: number, seqHi: number, code: ErrorCode, detail?: string): void {
    const wire = CODE_INFO[code].wire;
    let bytes = builtinErrorBytes(wire, detail);
    // A detail the server cannot take is cut to fit, not dropped: a bare Overloaded or Closed
    // would tell it a handler that ran never did.
    if (detail && bytes.length > this.peerLimits.maxError) bytes = builtinErrorBytes(wire, fittedDetail(wire, detail, this.peerLimits.maxError));
    this.answer(seqLo, seqHi, 2, bytes, EMPTY_BYTES);
  }

  writeCustomError(seqLo: number, seqHi: number, payload: ErrorPayload): boolean {
    if (typeof payload === 'number') {
      const n = new Uint8Array(4);
      putU32(n, 0, payload);
      this.answer(seqLo, seqHi, 1, n, EMPTY_BYTES);
      return true;
    }
    const bytes = escapeCustomBytes(payload);
    if (bytes.length > this.peerLimits.maxError) return false;
    this.answer(seqLo, seqHi, 2, bytes, EMPTY_BYTES);
    return true;
  }

  writeTooLarge(seqLo: number, seqHi: number, detail: string): void {
    this.logger.warn({ remote: this.link.remote, reason: detail }, "reverse answer over the server's limits: failing its call");
    this.writeError(seqLo, seqHi, ErrorCode.FrameTooLarge, detail);
  }

  /** Bare, as a reverse call whose dispatch threw: the log says what the handler gave. */
  writeRefused(seqLo: number, seqHi: number, action: string | number, why: string): void {
    this.logger.error({ action, remote: this.link.remote, reason: why }, `reverse call, ${actionName(action)}: ${why}; the call failed Internal`);
    this.writeError(seqLo, seqHi, ErrorCode.Internal);
  }

  settled(): void {
    if (--this.inFlight === 0 && this.closing) this.link.idle();
  }

  private answer(seqLo: number, seqHi: number, flag: number, msg: Uint8Array, blob: Uint8Array): void {
    if (this.closed) return;
    writeRequestHeader(this.head, REVERSE_ANSWER_ACTION, 0, seqLo + seqHi * TWO_32, ANSWER_FLAG_FIELD + msg.length, blob.length);
    this.head[REQUEST_HEADER_LENGTH] = flag;
    this.link.write(this.head);
    if (msg.length !== 0) this.link.write(msg);
    if (blob.length !== 0) this.link.write(blob);
  }
}
