import { ErrorCode, FrameError, RpcError, type Clock, type Ticker } from '@skein/core';
import type { Agreed } from '../wire/agreed.js';
import { CallHeadError, decodeCallHead, type CallHead } from '../wire/call-head.js';
import { describeHeadOver, headOver } from '../wire/head-size.js';
import { CANCEL_ACTION, CREDIT_ACTION, DATA_ACTION, END_ACTION, HEAD_ACTION, OPEN_ACTION } from '../wire/extension-frames.js';
import { REQ_MSG_LEN_AT, REQUEST_HEADER_LENGTH, u32 } from '../wire/protocol.js';
import { CallControl, type ControlOwner } from './call-control.js';
import { RequestStream, type StreamHost } from './request-stream.js';
import type { RecentStrings } from '../wire/recent-strings.js';
import { DrainWaiters } from '../internals/drain-waiters.js';
import type { StreamBudget } from './stream-budget.js';
import type { ServerRequest } from './request.js';
import { SeqTable } from '../internals/seq-table.js';

/** How often deadlines are looked at while a call with one runs: a call is answered Timeout at most this late. */
export const DEADLINE_TICK_MS = 10;

const TWO_32 = 0x1_0000_0000;

/** What a connection's extensions need of it: a host for its streams, and the strings of its last head. */
export interface ExtensionsHost extends StreamHost {
  /**
   * Kept by the connection, made at its first head: this state goes whenever nothing is tracked
   * (`release`), and a call at a time would leave the next head nothing to compare with.
   */
  recentHeadStrings(): RecentStrings;
  /** What its streams' windows may add up to (its kind's `streamBudgetBytes`, now). */
  readonly streamBudgetBytes: number;
  /** Its kind's `streamWindowBytes`, now: a peer's once it became one, whatever window its hello's answer named. */
  readonly streamWindowBytes: number;
  /** Whether the handler of a stream opened on `req`'s action reads its items (`Dispatch.readsItems`). */
  readsItems(req: ServerRequest): boolean;
  /** A stream was refused for the budget (counted and logged by the server). */
  streamBudgetRefused(): void;
}

/**
 * One connection's extensions, once its hello agreed them (docs/protocol.md, "Extension
 * frames"): the head waiting for its call, the calls that can be cancelled or have a deadline
 * (only those that came with a head: a plain call is never tracked), and their streams.
 */
export class ConnExtensions implements ControlOwner, StreamBudget {
  // A SeqTable, and a count rather than a Set of the calls with a deadline: a Map or Set with an
  // add and a delete per call keeps garbage alive in V8 (internals/seq-table.ts says how).
  private readonly tracked = new SeqTable<CallControl>();
  /**
   * Handlers still running after their calls were abandoned (cancelled, past their deadline):
   * their slots are free, and with twice maxInFlight handlers running, these included, the
   * connection takes no more calls until one ends, so that a peer cannot run any number at once
   * by abandoning every call it makes.
   * Here, not on the connection: an idle connection keeps no field for it (this state is made at
   * the first one, on a connection without extensions too: ServerConn.abandonedRunning; it goes
   * when the last one ends with nothing else here: `release`).
   */
  abandoned = 0;
  /** Tracked calls with a deadline: the ticker runs while there are any. */
  private timed = 0;
  private ticker: Ticker | undefined;
  /** Streams whose writes wait for the send buffer to drain. */
  private readonly drains = new DrainWaiters();
  /** The windows its open streams that take items hold (`streamBudgetBytes`): a count, no object (stream-budget.ts). */
  private reserved = 0;
  /** The head read last, for the request of its seq, which must come next. */
  private pending: { seqLo: number; seqHi: number; head: CallHead | undefined; error: RpcError | undefined; open: boolean } | undefined;

  constructor(
    private readonly host: ExtensionsHost,
    private agreed: Agreed,
    private readonly clock: Clock,
  ) {}

  /** A hello agreed these after the state was made without (NONE_AGREED: handlers abandoned before it). */
  agree(agreed: Agreed): void {
    this.agreed = agreed;
  }

  /**
   * True, its ticker stopped, when nothing here is needed any more: no call tracked (so no
   * stream, no deadline, no stream waiting for a drain), no head waiting for its request, no
   * handler running abandoned. The agreed terms live on the connection, which makes this again
   * with them at the next extension frame or abandoned handler.
   */
  release(): boolean {
    if (this.tracked.size !== 0 || this.abandoned !== 0 || this.pending !== undefined) return false;
    this.stopTicker();
    return true;
  }

  /** Calls tracked (with a head, not answered yet). */
  get size(): number {
    return this.tracked.size;
  }

  /** An extension frame (a reserved action from CANCEL_ACTION up). */
  frame(action: number, bytes: Uint8Array, start: number, end: number, seqLo: number, seqHi: number): void {
    const msgAt = start + REQUEST_HEADER_LENGTH;
    const msgEnd = msgAt + u32(bytes, start + REQ_MSG_LEN_AT);
    const key = seqLo + seqHi * TWO_32;
    switch (action) {
      case CANCEL_ACTION:
        return this.tracked.get(key)?.cancel();
      case HEAD_ACTION:
      case OPEN_ACTION:
        return this.head(action === OPEN_ACTION, bytes, msgAt, msgEnd, seqLo, seqHi);
      case DATA_ACTION: {
        const stream = this.tracked.get(key)?.stream;
        // Items for a stream already answered are read and dropped, as a late reply is.
        // Where it lies: the stream's inbox copies what it keeps (a small item must not pin the chunk).
        if (stream && !stream.received(bytes, msgAt, msgEnd, end)) {
          throw new FrameError('stream item sent without credit');
        }
        return;
      }
      case END_ACTION:
        return this.tracked.get(key)?.stream?.endReceived();
      case CREDIT_ACTION:
        if (msgEnd - msgAt < 4) throw new FrameError('credit frame without its u32');
        return this.tracked.get(key)?.stream?.granted(u32(bytes, msgAt));
      default:
        // A reserved action not assigned yet: a later client's frame we cannot read; ignored, as a hello entry would be.
        return;
    }
  }

  /**
   * The request after a head: true when it is to be dispatched. A request of another seq than
   * the head's means the client broke the order: the head is dropped, the request goes as plain.
   * `heldAt`: when the request was read, for one held past the cap and run only now.
   */
  admit(req: ServerRequest, seqLo: number, seqHi: number, heldAt?: number): boolean {
    const p = this.pending;
    if (p === undefined) return true;
    this.pending = undefined;
    if (p.seqLo !== seqLo || p.seqHi !== seqHi) return true;
    if (p.error) {
      req.fail(p.error.code, p.error.message);
      return false;
    }
    // Tracked calls are found by seq: a second one under a seq still running would take the
    // first's place, leaving one of them deaf to cancels, deadlines and the connection's loss.
    if (this.tracked.get(seqLo + seqHi * TWO_32) !== undefined) {
      req.fail(ErrorCode.InvalidArgument, `seq ${seqLo + seqHi * TWO_32} is taken by a call still running on this connection`);
      return false;
    }
    const head = p.head!;
    const remaining = head.remainingMs;
    let deadline: number | undefined;
    let passed = false;
    if (remaining !== undefined) {
      const now = this.clock.now();
      // From its arrival: a request held past the cap arrived when it was read, and its client's
      // time ran on while it waited for a slot (never a fresh `remaining` from now).
      deadline = (heldAt ?? now) + remaining;
      passed = deadline <= now;
    }
    const control = new CallControl(this, req, seqLo + seqHi * TWO_32, deadline, head.metadata, this.clock);
    req.control = control;
    const windows = this.agreed.streams;
    if (p.open && windows) {
      // Refused unrun (Overloaded with the room detail, `streamRoomDetail`, written by this path alone: safe to retry, and read
      // by a client as this connection's cap alone) before it is tracked or counted as a stream:
      // when its window does not fit the connection's budget beside the other streams' (the wire
      // gives it the whole window at once: stream-budget.ts), or past the cap on open streams.
      // Only a stream whose handler reads items reserves (the dispatch says, from its own
      // handlers: Dispatch.readsItems); one that reads none discards them from the start.
      const reads = this.host.readsItems(req);
      // Its client starts it with the window the hello's answer named (fixed on the wire); the
      // connection's kind may have changed since (a peer after its credentials): the stream is
      // held to the kind's window now, widened by a grant at once or narrowed by grants held back.
      const window = this.host.streamWindowBytes;
      const reserve = reads ? Math.max(window, windows.toServer) : 0;
      if (reads && !this.reserve(reserve)) {
        this.host.streamBudgetRefused();
        req.refuseForRoom('stream budget');
        return false;
      }
      if (!this.host.streamOpened()) {
        this.reserved -= reserve;
        req.refuseForRoom('open streams');
        return false;
      }
      control.stream = new RequestStream(this.host, seqLo, seqHi, windows.toClient, reads ? window : windows.toServer, this.drains, this, reads, windows.toServer);
    }
    // Its deadline passed before it arrived (`remaining_ms` 0), or while it was held: not run at all.
    if (passed) {
      control.expire();
      // Its handler never starts: it must not count as one running abandoned (`abandoned`).
      req.handlerEnded();
      return false;
    }
    this.tracked.set(control.seq, control);
    if (control.deadline !== undefined) this.watch();
    // Run: credit up to its kind's window, when that is wider than the hello's, at its handler's first read (none for one refused above).
    control.stream?.opened();
    return true;
  }

  /**
   * True, and `window` reserved, when it fits within the budget beside the others'. At least one
   * window: a connection shown to be a peer after its hello starts its streams with the window
   * its hello's answer named (the clients'), which the peers' budget need not reach.
   */
  private reserve(window: number): boolean {
    if (this.reserved + window > Math.max(this.host.streamBudgetBytes, window)) return false;
    this.reserved += window;
    return true;
  }

  windowFreed(window: number): void {
    this.reserved -= window;
  }

  untrack(control: CallControl): void {
    if (control.stream) this.host.streamClosed();
    if (this.tracked.delete(control.seq) && control.deadline !== undefined) this.timed--;
  }

  /** The connection's send buffer drained: the streams' writes held for it go on. */
  drained(): void {
    this.drains.drained();
  }

  /** The connection closed: every tracked call's signal fires, every stream fails. */
  close(cause: Error): void {
    this.drains.clear();
    this.stopTicker();
    const controls = this.tracked.values();
    this.tracked.clear();
    this.timed = 0;
    for (const c of controls) c.lost(cause);
  }

  private head(open: boolean, bytes: Uint8Array, msgAt: number, msgEnd: number, seqLo: number, seqHi: number): void {
    const p = { seqLo, seqHi, head: undefined as CallHead | undefined, error: undefined as RpcError | undefined, open };
    this.pending = p;
    const { maxHead, streams } = this.agreed;
    if (maxHead === 0) p.error = new RpcError(ErrorCode.Decode, 'call heads were not agreed on this connection');
    else if (open && !streams) p.error = new RpcError(ErrorCode.Version, 'streams were not agreed on this connection');
    if (p.error) return;
    // Counted before anything is decoded: its entries too, each of which costs memory whatever its size (wire/head-size.ts).
    const over = headOver(bytes, msgAt, msgEnd, maxHead);
    if (over !== undefined) return void (p.error = new RpcError(ErrorCode.FrameTooLarge, `call head of ${describeHeadOver(over)} exceeds the server's ${maxHead}`));
    try {
      p.head = decodeCallHead(bytes, msgAt, msgEnd, this.host.recentHeadStrings());
    } catch (err) {
      if (!(err instanceof CallHeadError)) throw err;
      p.error = new RpcError(ErrorCode.Decode, err.message);
    }
  }

  private watch(): void {
    this.timed++;
    this.ticker ??= this.clock.every(DEADLINE_TICK_MS, this.check);
  }

  private readonly check = (): void => {
    if (this.timed === 0) return this.stopTicker();
    const now = this.clock.now();
    for (const c of this.tracked.values()) if (c.deadline !== undefined && c.deadline <= now) c.expire();
  };

  private stopTicker(): void {
    this.ticker?.stop();
    this.ticker = undefined;
  }
}
