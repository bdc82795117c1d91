import { EMPTY_BYTES, ErrorCode, FrameError, RemoteError, RpcError, fromDownstream, invalidArgument, takeBytes, withoutStack, type Clock, type Logger } from '@skein/core';
import { Call, type Notify, type Reply } from '../client/call.js';
import { abortedAlready, cancellable, hookAbort } from '../client/call-abort.js';
import type { Caller } from '../client/caller.js';
import type { CallOptions } from '../client/call-options.js';
import { callTimeout, metadataRefusal } from '../internals/checks.js';
import { notifyGuarded } from '../internals/notify-guarded.js';
import { WaitingLine } from '../internals/waiting-line.js';
import { TickClock } from '../internals/tick-clock.js';
import { DeadlineWheel } from '../client/deadline-wheel.js';
import type { ReplyLimits } from '../wire/limits.js';
import { readErrorBytes } from '../wire/error-strings.js';
import { ACTION_STRING_BIT, HELLO_ACTION, PING_ACTION, REQ_MSG_LEN_AT, REQUEST_HEADER_LENGTH, RESPONSE_HEADER_LENGTH, putU32, u32, writeResponseHeaderHalves, type ResponseFlag } from '../wire/protocol.js';
import { ANSWER_FLAG_FIELD, REVERSE_ACTION_FIELD, REVERSE_CALL_FLAG, offeredReverseWindow, reverseAnswerEntry } from '../wire/reverse-calls.js';
import { REMAINING_FIELD, REVERSE_CONTROL_ENTRY, TIMED_REVERSE_CALL_FLAG, offersReverseControl, writeReverseCancel } from '../wire/reverse-control.js';
import { CallHeadError, encodeCallHead, wireRemaining } from '../wire/call-head.js';
import { describeHeadOver, headOver } from '../wire/head-size.js';
import { HEAD_LEN_FIELD, HEADED_REVERSE_CALL_FLAG, REVERSE_HEADS_ANSWER_ENTRY, offeredReverseMaxHead } from '../wire/reverse-heads.js';
import type { HelloEntry } from '../wire/hello.js';
import { SeqTable } from '../internals/seq-table.js';
import { PumpSoon } from '../internals/pump-soon.js';
import { frameCapWords } from '../wire/frame-cap-words.js';

/** What a ReverseCaller writes through: its server connection. */
export interface ReverseHost {
  readonly remote: string;
  /** Its ServerConn, as its requests know it: a call made for one still running goes in the drain (AbortSource.unansweredOn). */
  readonly owner: object;
  /** What the other side reads (its hello's receive limits; a later hello may change them). */
  readonly limits: ReplyLimits;
  /** The connection's send buffer is over its high-water mark: calls wait (the host calls `drained` once it is not). */
  readonly congested: boolean;
  /** Where a caller's callback that threw is told (what settled its call goes on). */
  readonly logger: Logger;
  write(part: Uint8Array): void;
  /**
   * A reverse call went on the wire: its answer must be read even while the connection is at its
   * cap of requests in flight (their handlers may be the ones waiting for it).
   */
  awaiting(): void;
  /** The last reverse call was answered or failed: a draining connection may end now. */
  idle(): void;
  /** The peer is stuck or broken (`why`): its connection is closed. */
  drop(why: Error): void;
}

/** The server's settings for calls both ways (its `reverseCalls` option), shared by its connections. */
export interface ReverseSettings {
  /** The largest reverse answer the server reads, told in the hello's answer: the smaller of its kinds' request limits. */
  readonly answerLimits: { readonly maxMessage: number; readonly maxBlob: number };
  readonly clock: Clock;
  /** A call's timeout unless its options say. */
  readonly timeoutMs: number;
  /** Calls waiting for the window; past it a call fails with Overloaded (unrun). */
  readonly maxQueued: number;
  /** The coarsest period deadlines are looked at (finer while shorter timeouts are pending), as in a ClientStream. */
  readonly tickMs: number;
}

const TWO_32 = 0x1_0000_0000;
/** What a reverse call's callback that threw is logged with (Call.finish), as its connection closed or not. */
const THREW = "a reverse call's callback threw";
const THREW_AT_CLOSE = "a reverse call's callback threw as its connection closed";
/** Action prefixes kept for reuse; past it, a new action's prefix is built per call. */
const MAX_PREFIXES = 1024;
const utf8 = new TextEncoder();

/**
 * The server's side of calls both ways: a Caller over a connection the other side opened, so
 * that `createClient(Def, req.conn.caller, { codec })` calls the services it serves. Each call
 * goes out as a reverse call frame (wire/reverse-calls.ts) within the window that side offered
 * and while the connection's send buffer is under its high-water mark (a side that reads slowly
 * must not make the server hold a window of calls in the socket's buffer: the offer can be 65 536);
 * the rest wait in a bounded line, as in a ClientStream. Where the other side agreed reverse
 * deadlines and cancels (`controls`, wire/reverse-control.ts), each call carries the time its
 * caller still waits, and one whose caller gives up (timeout, signal) is cancelled on the wire:
 * its slot is free at once, and its answer, if one still comes, is dropped. Elsewhere (an older
 * Skein client) such a call keeps its window slot until its answer comes, since that side still
 * runs it. When every slot is held so and a waiting call's whole timeout passes without one
 * answer, and that stall has lasted the reverse calls' default timeout (`reverseCalls.timeoutMs`)
 * too, the peer is taken for stuck and its connection is closed: otherwise every later call
 * would wait and time out, unsent, for as long as the connection lives.
 */
export class ReverseCaller implements Caller {
  private nextSeq = 1;
  /** On the wire, by seq: settled ones too, until their answer frees the slot. */
  private readonly onWire = new SeqTable<Call>();
  /** Calls on the wire whose callers gave up (timed out, cancelled): their slots wait for answers nobody reads. */
  private abandoned = 0;
  /** Ticked time since when every slot of the window is abandoned (-1: not so). */
  private stalledSince = -1;
  private readonly waiting = new WaitingLine<Call>();
  private readonly header = new Uint8Array(RESPONSE_HEADER_LENGTH);
  /** A timed call's `remaining_ms`, and a cancel frame: written from here, no buffer per call. */
  private readonly remaining = new Uint8Array(REMAINING_FIELD);
  /** A headed call's `head_len`, written from here too. */
  private readonly headLen = new Uint8Array(HEAD_LEN_FIELD);
  private readonly cancelFrame = new Uint8Array(RESPONSE_HEADER_LENGTH);
  /** Refills the window a microtask after a give-up freed a slot. */
  private readonly soon = new PumpSoon(() => {
    if (this.state !== 'closed') this.pump();
  });
  private readonly prefixes = new Map<string | number, Uint8Array>();
  private state: 'open' | 'draining' | 'closed' = 'open';
  private closeCause: Error | undefined;
  /** Ticked time and the calls by deadline, as in a ClientStream: made at the first call, so a connection never called has no ticker. */
  private pace: TickClock | undefined;
  private deadlines: DeadlineWheel | undefined;

  /** See `Caller.timeoutMs`: the server's `reverseCalls.timeoutMs`. */
  get timeoutMs(): number {
    return this.settings.timeoutMs;
  }

  constructor(
    private readonly host: ReverseHost,
    private readonly settings: ReverseSettings,
    /** Reverse calls in flight at once: the window the connecting side offered. */
    private readonly window: number,
    /** The other side reads deadlines and cancels (its hello offered them): calls carry the one and get the other. */
    readonly controls = false,
    /**
     * The largest head the other side reads (its hello offered reverse call heads, wire/reverse-heads.ts),
     * counted as a server counts a forward head; 0: it reads none, and a call's metadata is not sent
     * (as a forward call's to a razor v1 server: there is nowhere to put it).
     */
    readonly maxHead = 0,
  ) {}

  /** Reverse calls on the wire (answered or not by their callers), and waiting. */
  get inFlight(): number {
    return this.onWire.size;
  }

  get queued(): number {
    return this.waiting.size;
  }

  /**
   * Calls out or waiting: the connection does not end under them. Not those given up on (timed
   * out, cancelled): nobody waits for their answers, and a peer that never sends one (a hung or
   * vanished client) would otherwise keep its connection from the idle timeout for good.
   */
  get busy(): boolean {
    return this.onWire.size > this.abandoned || this.waiting.size !== 0;
  }

  send(action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify): void {
    const blob = opts.blob ?? EMPTY_BYTES;
    let prefix: Uint8Array;
    let timeoutMs: number;
    let head: Uint8Array | undefined;
    try {
      prefix = this.prefix(action);
      timeoutMs = callTimeout(opts.timeoutMs, this.settings.timeoutMs);
      head = this.head(opts);
      this.checkSize(prefix, msg, blob, head);
      if (opts.onReplyMetadata !== undefined && typeof opts.onReplyMetadata !== 'function') throw invalidArgument('onReplyMetadata must be a function');
    } catch (err) {
      return this.refuse(action, notify, fromDownstream(err as RpcError));
    }
    if (this.state === 'closed') return this.refuse(action, notify, new RpcError(ErrorCode.IO, `connection from ${this.host.remote} is closed: reverse call not sent`, { cause: this.closeCause, retry: 'safe' }));
    // Draining: only a call made for a request of this connection still running goes (`abortSource:
    // req`, `{ ctx }`): the drain waits for its handler, which may need the answer to give its own.
    if (this.state === 'draining' && opts.abortSource?.unansweredOn?.(this.host.owner) !== true) {
      return this.refuse(action, notify, new RpcError(ErrorCode.Closed, `connection from ${this.host.remote} is closing: reverse call not sent`));
    }
    const aborted = abortedAlready(opts);
    if (aborted) return this.refuse(action, notify, aborted);
    const sendNow = this.onWire.size < this.window && this.waiting.size === 0 && !this.host.congested;
    if (!sendNow && this.waiting.size >= this.settings.maxQueued) {
      return this.refuse(action, notify, new RpcError(ErrorCode.Overloaded, `more than ${this.settings.maxQueued} reverse calls waiting on ${this.host.remote}`));
    }
    const call = new Call(action, prefix, msg, blob, timeoutMs, notify);
    call.head = head;
    if (opts.onReplyMetadata !== undefined) call.onReplyMetadata = opts.onReplyMetadata;
    if (this.pace === undefined) {
      this.pace = new TickClock(this.settings.clock, this.settings.tickMs, this.settings.timeoutMs, () => this.sweep());
      this.deadlines = new DeadlineWheel(this.pace.finest);
    }
    // Before the deadline: a finer pace counts the idle time since the last tick first (as a ClientStream's calls).
    call.deadline = this.pace.deadline(timeoutMs);
    call.acceptedAt = this.pace.elapsed;
    this.deadlines!.add(call);
    if (cancellable(opts)) this.watchAbort(call, opts);
    if (sendNow) this.transmit(call);
    else this.waiting.push(call);
  }

  /**
   * A call refused before it was accepted: told at once, guarded as every settling is
   * (`notifyGuarded`). One that threw was thrown into the handler that made the call.
   */
  private refuse(action: string | number, notify: Notify, err: RpcError): void {
    notifyGuarded(this.host.logger, this.host.remote, action, notify, err, null, THREW);
  }

  /** A reverse answer (REVERSE_ANSWER_ACTION) at `bytes[start, end)`. */
  answer(bytes: Uint8Array, start: number, end: number, seqLo: number, seqHi: number): void {
    const msgAt = start + REQUEST_HEADER_LENGTH;
    const msgEnd = msgAt + u32(bytes, start + REQ_MSG_LEN_AT);
    if (msgEnd === msgAt) throw new FrameError('reverse answer without its flag byte');
    const seq = seqLo + seqHi * TWO_32;
    const call = this.onWire.get(seq);
    // For no call of ours (never sent, or answered already): dropped.
    if (call === undefined) return;
    // Read while the call is still on the wire: an answer that does not parse fails the
    // connection, and with it this call (IO), instead of leaving it settled by nobody.
    const outcome = call.done ? undefined : readAnswer(bytes, msgAt + ANSWER_FLAG_FIELD, msgEnd, end, bytes[msgAt]!);
    this.onWire.delete(seq);
    if (call.done) this.unabandon();
    if (outcome !== undefined) {
      this.deadlines!.remove(call);
      // The client's answer came: a caller reading reply metadata is told, as of any call, and
      // told none (a client's handler sets none on a reverse answer).
      if (call.onReplyMetadata !== undefined) call.tellReplyMetadata(this.host);
      this.settle(call, ...outcome);
    }
    this.pump();
  }

  /** The connection's send buffer drained: calls held back by it go now. */
  drained(): void {
    if (this.waiting.size !== 0) this.pump();
  }

  /** The server is closing: no new reverse calls but those made for its running requests (`send`); those out and waiting still go and are answered. */
  drain(): void {
    if (this.state === 'open') this.state = 'draining';
  }

  /** The connection is gone: calls on the wire fail with IO (they may have run), waiting ones with IO, unrun. */
  close(cause: Error): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeCause = cause;
    this.pace?.stop();
    this.deadlines?.clear();
    const out = this.onWire.values();
    this.onWire.clear();
    // Stackless (withoutStack): made for many calls in the close's turn, a stack names only Skein's close handler.
    for (const call of out) {
      this.settle(call, withoutStack(() => new RpcError(ErrorCode.IO, `connection from ${this.host.remote} lost with the reverse call out: it may have run (${cause.message})`, { cause })), null);
    }
    for (const call of this.waiting.drain()) {
      this.settle(call, withoutStack(() => new RpcError(ErrorCode.IO, `connection from ${this.host.remote} lost before the reverse call was sent: ${cause.message}`, { cause, retry: 'safe' })), null);
    }
  }

  /**
   * Settles `call`. Its callback is the server's own code (a raw `caller.send`): one that throws
   * is logged, and what settled the call goes on. Thrown out of a close, it left the other calls
   * unfailed, the connection's handlers unaborted, the connection counted open and the server's
   * `close()` waiting for it; out of an answer, it closed the connection (the client's calls on it
   * failing IO, "may have run"); out of a timeout or a cancel, it was uncaught.
   */
  private settle(call: Call, err: RpcError | RemoteError | null, reply: Reply | null): void {
    call.finish(err, reply, this.host, this.state === 'closed' ? THREW_AT_CLOSE : THREW);
  }

  private transmit(call: Call): void {
    // What the caller still waits: the time it spent in the line is taken off, as a ClientStream's head does.
    const remaining = this.controls ? call.timeoutMs - (this.pace!.elapsed - call.acceptedAt) : 0;
    if (this.controls && remaining <= 0) return this.spentWaiting(call);
    const seq = this.nextSeq++;
    call.seq = seq;
    this.onWire.set(seq, call);
    const prefix = call.action as Uint8Array;
    const head = call.head;
    if (head !== undefined) {
      // Its `remaining_ms`, read off the clock now, in front of the entries written at send.
      putU32(head, 0, wireRemaining(remaining));
      putU32(this.headLen, 0, head.length);
      writeResponseHeaderHalves(this.header, HEADED_REVERSE_CALL_FLAG as number as ResponseFlag, HEAD_LEN_FIELD + head.length + prefix.length + call.msg.length, seq >>> 0, Math.floor(seq / TWO_32), call.blob.length);
      this.host.write(this.header);
      this.host.write(this.headLen);
      this.host.write(head);
    } else if (this.controls) {
      putU32(this.remaining, 0, wireRemaining(remaining));
      writeResponseHeaderHalves(this.header, TIMED_REVERSE_CALL_FLAG as number as ResponseFlag, REMAINING_FIELD + prefix.length + call.msg.length, seq >>> 0, Math.floor(seq / TWO_32), call.blob.length);
      this.host.write(this.header);
      this.host.write(this.remaining);
    } else {
      writeResponseHeaderHalves(this.header, REVERSE_CALL_FLAG as number as ResponseFlag, prefix.length + call.msg.length, seq >>> 0, Math.floor(seq / TWO_32), call.blob.length);
      this.host.write(this.header);
    }
    this.host.write(prefix);
    if (call.msg.length !== 0) this.host.write(call.msg);
    if (call.blob.length !== 0) this.host.write(call.blob);
    // Written, never sent again: the call keeps its slot until its answer, which a peer may never
    // send, and must not keep what it carried with it (a peer offers up to 65 536 slots).
    call.dropPayload();
    if (this.onWire.size === 1) this.host.awaiting();
  }

  /**
   * Its timeout ran out in the line, before its expiry on the ticks (up to a period later) came:
   * never sent, as one that expires waiting. Sent, it would carry a deadline of 0 ms, which the
   * other side answers Timeout unrun, and the caller would read "may have run".
   */
  private spentWaiting(call: Call): void {
    this.deadlines!.remove(call);
    call.dropPayload();
    this.settle(call, withoutStack(() => new RpcError(ErrorCode.Timeout, `reverse call waited ${call.timeoutMs} ms for the window and was never sent`, { retry: 'safe' })), null);
  }

  /** Reverse calls on the wire whose answers have not come: the connection must keep reading. */
  get awaitingAnswers(): boolean {
    return this.onWire.size !== 0;
  }

  /** Sends waiting calls while the window has room and the send buffer is not full. */
  private pump(): void {
    while (this.state !== 'closed' && this.onWire.size < this.window && !this.host.congested) {
      const next = this.waiting.shift();
      if (next === undefined) break;
      this.transmit(next);
    }
    if (!this.busy) this.host.idle();
  }

  private sweep(): void {
    this.deadlines!.sweep(this.pace!.elapsed, this.expire);
  }

  /**
   * Fails a call past its deadline: on the wire (Timeout, may have run; cancelled where the other
   * side reads cancels, else its slot stays until the answer) or waiting (never sent).
   */
  private readonly expire = (call: Call): void => {
    if (call.done) return;
    if (call.seq !== 0) {
      this.giveUp(call);
      return this.settle(call, withoutStack(() => new RpcError(ErrorCode.Timeout, `no answer from ${this.host.remote} to a reverse call within ${call.timeoutMs} ms`)), null);
    }
    // It waited its whole timeout while every slot was held by a call nobody waits for, and the
    // peer answered none of them for at least the reverse calls' own default timeout too (a call's
    // short timeout says nothing of a peer that answers slowly but answers): it never will, and
    // every later call would wait the same way.
    const stalledMs = this.stalledSince < 0 ? -1 : this.pace!.elapsed - this.stalledSince;
    if (stalledMs >= call.timeoutMs && stalledMs >= this.settings.timeoutMs) return this.peerStuck(stalledMs);
    this.waiting.settled();
    call.dropPayload();
    this.settle(call, withoutStack(() => new RpcError(ErrorCode.Timeout, `reverse call waited ${call.timeoutMs} ms for the window and was never sent`, { retry: 'safe' })), null);
  };

  private watchAbort(call: Call, opts: CallOptions): void {
    call.unhookAbort = hookAbort(opts, (why) => {
      if (call.done) return;
      // Waiting: it leaves the line. On the wire: cancelled, or it keeps its slot until the answer.
      if (call.seq === 0) this.waiting.settled();
      else this.giveUp(call);
      call.dropPayload();
      this.deadlines!.remove(call);
      this.settle(call, why, null);
    });
  }

  /**
   * The caller gave up on a call on the wire. Where the other side reads cancels it is told, and
   * the slot is free now: its answer, if one still comes, finds no call and is dropped. Elsewhere
   * the slot waits for that answer, which nobody reads (`abandon`).
   */
  private giveUp(call: Call): void {
    if (!this.controls) return this.abandon();
    this.onWire.delete(call.seq);
    this.host.write(writeReverseCancel(this.cancelFrame, call.seq));
    this.soon.request();
  }

  /** A call on the wire was given up on: its slot now waits for an answer nobody reads. */
  private abandon(): void {
    if (++this.abandoned >= this.window && this.stalledSince < 0) this.stalledSince = this.pace!.elapsed;
  }

  /** An abandoned call's answer came: its slot is free again, and the peer is alive. */
  private unabandon(): void {
    this.abandoned--;
    this.stalledSince = -1;
  }

  /**
   * Closes the connection of a peer that holds every slot with calls it does not answer: the
   * calls waiting fail unsent (IO, safe to retry elsewhere), saying why; those it holds were
   * settled already. Nothing that may have run is sent again.
   */
  private peerStuck(stalledMs: number): void {
    const why = new Error(
      `${this.host.remote} answered none of the ${this.window} reverse calls its window holds, all given up on by their callers (timed out or cancelled), for ${Math.round(stalledMs)} ms while calls waited for a slot: closing the connection`,
    );
    this.close(why);
    this.host.drop(why);
  }

  /** `action u32 | action string`, the part in front of the call's msg; kept per action. */
  private prefix(action: string | number): Uint8Array {
    let prefix = this.prefixes.get(action);
    if (prefix !== undefined) return prefix;
    if (typeof action === 'number') {
      if (!Number.isInteger(action) || action <= PING_ACTION || action >= HELLO_ACTION) {
        throw invalidArgument(`numeric action must be an integer in 1..${HELLO_ACTION - 1} (${HELLO_ACTION} and up are reserved), got ${action}`);
      }
      prefix = new Uint8Array(REVERSE_ACTION_FIELD);
      putU32(prefix, 0, action);
    } else {
      if (typeof action !== 'string' || action.length === 0) throw invalidArgument('action must be a non-empty string or a number');
      const name = utf8.encode(action);
      prefix = new Uint8Array(REVERSE_ACTION_FIELD + name.length);
      putU32(prefix, 0, (ACTION_STRING_BIT | name.length) >>> 0);
      prefix.set(name, REVERSE_ACTION_FIELD);
    }
    if (this.prefixes.size < MAX_PREFIXES) this.prefixes.set(action, prefix);
    return prefix;
  }

  /**
   * The head of a call with metadata, to a side that reads heads: its entries written now (its
   * `remaining_ms` when it goes), refused here, unsent, when it is over what that side reads,
   * counted as that side counts it (its entries too), as a ClientStream refuses a forward one.
   * Undefined without entries (a timed call says all), or where heads were not agreed.
   */
  private head(opts: CallOptions): Uint8Array | undefined {
    const { metadata } = opts;
    if (metadata === undefined) return undefined;
    const notRecord = metadataRefusal(metadata);
    if (notRecord) throw notRecord;
    if (this.maxHead === 0) return undefined;
    let head: Uint8Array;
    try {
      head = encodeCallHead(undefined, metadata);
    } catch (err) {
      if (err instanceof CallHeadError) throw invalidArgument(`metadata: ${err.message}`);
      throw err;
    }
    if (head.length === REMAINING_FIELD) return undefined;
    const over = headOver(head, 0, head.length, this.maxHead);
    if (over !== undefined) {
      throw new RpcError(ErrorCode.FrameTooLarge, `metadata of ${describeHeadOver(over, 'bytes encoded')} exceeds ${this.host.remote}'s limit of ${this.maxHead}: reverse call not sent`);
    }
    return head;
  }

  /** Over what the other side reads, a reverse call would cost it its connection: it fails here, unsent. */
  private checkSize(prefix: Uint8Array, msg: Uint8Array, blob: Uint8Array, head: Uint8Array | undefined): void {
    if (!(msg instanceof Uint8Array)) throw invalidArgument('msg must be a Uint8Array');
    if (!(blob instanceof Uint8Array)) throw invalidArgument('blob must be a Uint8Array');
    const { maxMessage, maxBlob } = this.host.limits;
    // A timed call's remaining time travels in its message too, a headed call's whole head.
    const length = (head !== undefined ? HEAD_LEN_FIELD + head.length : this.controls ? REMAINING_FIELD : 0) + prefix.length + msg.length;
    if (length > maxMessage) {
      throw new RpcError(ErrorCode.FrameTooLarge, `reverse call of ${length} message bytes (action included) exceeds ${this.host.remote}'s limit of ${maxMessage}`);
    }
    if (blob.length > maxBlob) throw new RpcError(ErrorCode.FrameTooLarge, `reverse call blob of ${blob.length} bytes exceeds ${this.host.remote}'s limit of ${maxBlob}`);
    // Parts that fit one at a time may not fit together in the largest frame its transport carries (its hello's max_frame).
    const { maxBody, maxFrame } = this.host.limits;
    if (maxBody !== undefined && length + blob.length > maxBody) {
      const frame = RESPONSE_HEADER_LENGTH + length + blob.length;
      const cap = maxFrame !== undefined ? frameCapWords(`${this.host.remote}'s`, maxFrame, 'client') : `${this.host.remote}'s limit of ${maxBody} message and blob bytes together`;
      throw new RpcError(ErrorCode.FrameTooLarge, `reverse call frame of ${frame} bytes exceeds ${cap}: not sent`);
    }
  }
}

/** A reverse answer's body, `bytes[from, msgEnd)` after its flag byte, with the blob up to `end`. */
function readAnswer(bytes: Uint8Array, from: number, msgEnd: number, end: number, flag: number): [RpcError | RemoteError | null, { msg: Uint8Array; blob: Uint8Array } | null] {
  switch (flag) {
    case 0:
      return [null, { msg: from === msgEnd ? EMPTY_BYTES : takeBytes(bytes, from, msgEnd), blob: msgEnd === end ? EMPTY_BYTES : takeBytes(bytes, msgEnd, end) }];
    case 1:
      if (msgEnd - from < 4) throw new FrameError('reverse answer with an error number cut short');
      return [new RemoteError(u32(bytes, from)), null];
    case 2: {
      const e = readErrorBytes(takeBytes(bytes, from, msgEnd));
      return [e instanceof RpcError ? e : new RemoteError(e), null];
    }
    default:
      throw new FrameError(`reverse answer with unknown flag ${flag}`);
  }
}

/**
 * The server's half of agreeing calls both ways in the hello at `b[from, to)`: a caller and the
 * answer's entry when the offer has a window, else undefined (and nothing is ever sent).
 */
export function acceptReverseOffer(host: ReverseHost, settings: ReverseSettings, b: Uint8Array, from: number, to: number): { caller: ReverseCaller; entries: HelloEntry[] } | undefined {
  const window = offeredReverseWindow(b, from, to);
  if (window === 0) return undefined;
  const controls = offersReverseControl(b, from, to);
  // Heads only with deadlines and cancels: a head carries a deadline, and its call is cancelled as a timed one.
  const maxHead = controls ? offeredReverseMaxHead(b, from, to) : 0;
  return { caller: new ReverseCaller(host, settings, window, controls, maxHead), entries: reverseAnswerEntries(settings, controls, maxHead > 0) };
}

/**
 * The answer's entries of calls both ways: the answer limits, and deadlines and cancels, and
 * heads, where agreed (a later hello's answer names them again).
 */
export function reverseAnswerEntries(settings: ReverseSettings, controls: boolean, heads: boolean): HelloEntry[] {
  const { maxMessage, maxBlob } = settings.answerLimits;
  const entries = [reverseAnswerEntry(maxMessage, maxBlob)];
  if (controls) entries.push(REVERSE_CONTROL_ENTRY);
  if (heads) entries.push(REVERSE_HEADS_ANSWER_ENTRY);
  return entries;
}
