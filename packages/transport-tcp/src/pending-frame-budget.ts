import { FrameError } from '@skein/core';

/** What waits for room in a PendingFrameBudget: told once the room it asked for is taken for it. */
export interface BudgetWaiter {
  /** `n` bytes, what it asked for, are taken for it and now its own to use or give back. */
  roomGiven(n: number): void;
}

/**
 * The memory that frames cut across chunks hold while the rest of them is on its way, shared by
 * the connections of one listener (or by those a transport connected). Assembly already grows
 * with the bytes that arrived, not with the length a header claims; this bounds what many
 * peers together can make the process hold by sending the start of large frames and stalling.
 *
 * A connection whose piece does not fit waits for room (its reading paused, the chunk it has
 * kept) rather than being closed: peers that stall mid-frame must not fail an innocent one's
 * frame. Room given back goes to the waiters first, oldest first, and while any waits a new
 * taker waits behind them, so stalled peers cannot take freed room back ahead of it. The
 * server's read timeout bounds the wait, and the frames holding the room started earlier, so
 * time out earlier.
 */
export class PendingFrameBudget {
  private held = 0;
  /** Who waits, oldest first, and for how many bytes each; made when the first one waits. */
  private waiters: BudgetWaiter[] | undefined;
  private wanted: number[] | undefined;

  constructor(readonly max: number) {}

  /** Bytes held now, across the connections sharing the budget (room taken for waiters included). */
  get inUse(): number {
    return this.held;
  }

  /** Connections waiting for room now. */
  get waiting(): number {
    return this.waiters?.length ?? 0;
  }

  /**
   * Takes `n` bytes for a connection that holds `own` already: true when taken, false when it
   * must wait (`wait`) for room, others holding it or waiting before it. Throws a FrameError,
   * taking nothing, when `own + n` is over `max`: that frame never fits, and its connection is
   * closed, no other.
   */
  take(n: number, own: number): boolean {
    if (this.held + n <= this.max && this.waiters === undefined) {
      this.held += n;
      return true;
    }
    if (own + n > this.max) throw this.over(n);
    return false;
  }

  /** Why a connection whose `n` bytes do not fit now, and never will (its frame is longer than `max`), is closed rather than made to wait. */
  over(n: number): FrameError {
    return new FrameError(`partly received frames would hold ${this.held + n} bytes, over the maxPendingFrameBytes budget of ${this.max}`);
  }

  /** Queues `waiter` for `n` bytes (`take` said to wait): `roomGiven` follows once they are taken for it. */
  wait(waiter: BudgetWaiter, n: number): void {
    (this.waiters ??= []).push(waiter);
    (this.wanted ??= []).push(n);
  }

  /** `waiter` waits no more (its connection closed): the ones behind it may fit now. */
  leave(waiter: BudgetWaiter): void {
    const i = this.waiters?.indexOf(waiter) ?? -1;
    if (i < 0) return;
    this.waiters!.splice(i, 1);
    this.wanted!.splice(i, 1);
    this.grant();
  }

  give(n: number): void {
    this.held -= n;
    if (this.waiters !== undefined) this.grant();
  }

  /**
   * Takes room for the waiters, oldest first, as far as it goes: one that does not fit holds up
   * the rest. Read afresh each turn: a waiter's `roomGiven` may give or leave in turn.
   */
  private grant(): void {
    for (let waiters = this.waiters; waiters !== undefined && waiters.length > 0; waiters = this.waiters) {
      const n = this.wanted![0]!;
      if (this.held + n > this.max) break;
      const next = waiters.shift()!;
      this.wanted!.shift();
      this.held += n;
      next.roomGiven(n);
    }
    // No queue is the hot path's test: `take` looks at nothing more.
    if (this.waiters !== undefined && this.waiters.length === 0) this.waiters = this.wanted = undefined;
  }
}
