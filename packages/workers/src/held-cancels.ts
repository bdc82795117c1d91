import { ErrorCode, RpcError } from '@skein/core';
import type { ServerRequest } from '@skein/stream';
import type { CancelMessage } from './messages.js';
import type { WorkerSlot } from './worker-slot.js';

/**
 * The cancels of calls that came with a head (their signal aborted: a cancel frame, their
 * deadline, their connection lost), told to the workers that hold them: one message per worker
 * at the end of the turn, naming call ids, so that each worker answers them at once and frees
 * their places. Out of the pool because only a cancel comes here, never a call's path.
 *
 * The cancelled are found among the held at the turn's end, not kept in a map by request as they
 * are sent: a Map with a set and a delete per call keeps garbage alive in V8 (stream's
 * internals/seq-table.ts says how), and a WeakMap's set cost ~0.3 µs a call; cancels are few
 * beside calls (see `heldIds`).
 */
export class HeldCancels {
  private cancelled: (readonly [ServerRequest, unknown])[] = [];
  private readonly sendLater = (): void => this.send();

  constructor(
    /** The pool's held calls by call id, and the worker that holds each (the same arrays, for the pool's life). */
    private readonly held: readonly (ServerRequest | undefined)[],
    private readonly holder: readonly (WorkerSlot | undefined)[],
  ) {}

  /** `req` stopped being waited for, for `reason`: its worker is told at the turn's end, if it holds it then. */
  add(req: ServerRequest, reason: unknown): void {
    if (this.cancelled.push([req, reason]) === 1) queueMicrotask(this.sendLater);
  }

  /**
   * Tells each worker which of its calls were cancelled this turn. The call ids are read now: a
   * call answered meanwhile is skipped, so a cancel never names an id already given to another call.
   */
  private send(): void {
    const perWorker = new Map<WorkerSlot, CancelMessage>();
    const cancelled = this.cancelled;
    this.cancelled = [];
    const idOf = this.heldIds(cancelled.length);
    for (const [req, reason] of cancelled) {
      const id = idOf(req);
      // Not held: queued (skipped at its turn, or pruned when the queue is full), or answered.
      if (id < 0) continue;
      const slot = this.holder[id]!;
      let m = perWorker.get(slot);
      if (!m) perWorker.set(slot, (m = { t: 'cancel', ids: [], codes: [], messages: [] }));
      // The reason's code and words, Cancelled and its text for any other reason: read, never an error made for it.
      const own = reason instanceof RpcError;
      m.ids.push(id);
      m.codes.push(own ? reason.code : ErrorCode.Cancelled);
      m.messages.push(own ? reason.message : String(reason));
    }
    for (const [slot, m] of perWorker) if (slot.state !== 'exited') slot.tell(m);
  }

  /**
   * How to find where `n` cancelled calls are held (-1: not held): a search of the held calls
   * each, or, when that would cost more than one pass (a connection lost under many calls, in a
   * large pool: `held` has workers × maxInFlightPerWorker places), a map made in one pass, which
   * lives for this turn only.
   */
  private heldIds(n: number): (req: ServerRequest) => number {
    const held = this.held;
    if (n <= 4 || n * held.length <= 1 << 16) return (req) => held.indexOf(req);
    const ids = new Map<ServerRequest, number>();
    for (let id = 0; id < held.length; id++) if (held[id] !== undefined) ids.set(held[id]!, id);
    return (req) => ids.get(req) ?? -1;
  }
}
