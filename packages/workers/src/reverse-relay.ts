import { ErrorCode, RemoteError, RpcError } from '@skein/core';
import { LazyAbort, SeqTable, type Caller, type CallOptions, type Reply } from '@skein/stream';
import type { ReverseCallOpts, ReverseCallsMessage } from './messages.js';
import { ReplyPacker } from './reply-batch.js';
import { unpackReverseCalls } from './reverse-call-batch.js';
import type { WorkerSlot } from './worker-slot.js';

/** One worker's reverse calls on the pool's thread: what aborts each, and the answers of this turn. */
interface SlotCalls {
  readonly slot: WorkerSlot;
  /**
   * By the worker's reverse call id (handed out in order: a SeqTable, not a Map with a set and a
   * delete per call, whose churn keeps young garbage alive), until its caller answers it.
   */
  readonly running: SeqTable<LazyAbort>;
  readonly out: ReplyPacker;
  gone: number[] | undefined;
  dirty: boolean;
}

/**
 * The pool's side of calls both ways from workers: runs each reverse call a worker's handler made
 * through `ctx.caller` on the real connection's caller (a ReverseCaller: its window, its bounded
 * line, its timeout, its errors, which refuse past their bounds), and sends the outcomes back to
 * that worker, one message per worker per turn. A call's signal cannot cross threads: each gets an
 * abort here, which the worker's cancel fires, given to the caller as its `abortSource` (a
 * LazyAbort: an AbortController and a listener on its signal per call cost this thread ~3.5 µs a
 * call on Node 20, more than the rest of the relay). What is kept per call (its abort) goes when
 * its caller answers it, or when its worker exits (the calls are aborted, their answers dropped).
 */
export class ReverseRelay {
  /** The open connections that agreed calls both ways, by the pool's key: dropped when they close. */
  private readonly callers = new Map<number, Caller>();
  private readonly slots = new Map<WorkerSlot, SlotCalls>();
  private dirty: SlotCalls[] = [];
  private readonly flushLater = (): void => this.flush();

  /** A connection the pool now knows: kept while it is open if it has a caller. */
  opened(key: number, caller: Caller | undefined): void {
    if (caller !== undefined) this.callers.set(key, caller);
  }

  closed(key: number): void {
    this.callers.delete(key);
  }

  calls(slot: WorkerSlot, m: ReverseCallsMessage): void {
    let s = this.slots.get(slot);
    if (s === undefined) this.slots.set(slot, (s = { slot, running: new SeqTable(), out: new ReplyPacker(), gone: undefined, dirty: false }));
    const calls = s;
    unpackReverseCalls(m, (id, key, action, msg, blob, o) => this.run(calls, id, key, action, msg, blob, o));
    for (const id of m.cancels ?? []) s.running.get(id)?.fire();
  }

  /** Its calls are aborted (their waiting places freed), and their answers dropped. */
  workerExited(slot: WorkerSlot): void {
    const s = this.slots.get(slot);
    if (s === undefined) return;
    this.slots.delete(slot);
    const running = s.running.values();
    s.running.clear();
    for (const c of running) c.fire();
  }

  private run(s: SlotCalls, id: number, key: number, action: string | number, msg: Uint8Array, blob: Uint8Array, o: ReverseCallOpts | undefined): void {
    const caller = this.callers.get(key);
    if (caller === undefined) {
      (s.gone ??= []).push(id);
      return this.later(s);
    }
    const abort = new LazyAbort();
    if (o?.aborted) abort.fire();
    s.running.set(id, abort);
    const opts: CallOptions = o === undefined ? { blob, abortSource: abort } : { blob, abortSource: abort, timeoutMs: o.timeoutMs, idempotent: o.idempotent, metadata: o.metadata };
    try {
      caller.send(action, msg, opts, (err, reply) => this.answered(s, id, err, reply));
    } catch (err) {
      this.answered(s, id, err, null);
    }
  }

  private answered(s: SlotCalls, id: number, err: unknown, reply: Reply | null): void {
    if (!s.running.delete(id)) return; // its worker exited
    if (err === null) s.out.ok(id, reply!.msg, reply!.blob);
    else if (err instanceof RpcError) s.out.failed(id, err.code, err.message, err.retry);
    else if (err instanceof RemoteError) s.out.custom(id, err.payload);
    else s.out.failed(id, ErrorCode.Internal, err instanceof Error ? err.message : String(err), 'never');
    this.later(s);
  }

  private later(s: SlotCalls): void {
    if (s.dirty) return;
    s.dirty = true;
    if (this.dirty.push(s) === 1) queueMicrotask(this.flushLater);
  }

  private flush(): void {
    const dirty = this.dirty;
    this.dirty = [];
    for (const s of dirty) {
      s.dirty = false;
      const m = s.out.takeAnswers(s.gone);
      s.gone = undefined;
      if (s.slot.state !== 'exited') s.slot.tell(m, [m.buf]);
    }
  }
}
