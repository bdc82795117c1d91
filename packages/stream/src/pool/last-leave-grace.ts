import { MAX_TIMER_MS, invalidArgument } from '@skein/core';

/** `lastLeaveGraceMs`'s default: the registrations' default TTL, long enough for a server that is alive to write its entry again. */
export const DEFAULT_LAST_LEAVE_GRACE_MS = 10_000;

/** The option `lastLeaveGraceMs` of a discovery follower, checked (a timer must hold it), or its default. */
export function lastLeaveGraceMs(ms: number | undefined): number {
  const graceMs = ms ?? DEFAULT_LAST_LEAVE_GRACE_MS;
  if (!(graceMs >= 0 && graceMs <= MAX_TIMER_MS)) throw invalidArgument(`lastLeaveGraceMs must be between 0 and ${MAX_TIMER_MS} ms, got ${graceMs}`);
  return graceMs;
}

export interface LastLeaveHoldOptions<T> {
  /** From `lastLeaveGraceMs`; 0 holds nothing. */
  readonly graceMs: number;
  /**
   * Whether the follower still follows: a watch closed during the grace keeps what is held, as
   * `close()` keeps the membership; a pool or cluster closed meanwhile is not followed either
   * (nothing is removed from it).
   */
  readonly following: () => boolean;
  /**
   * Whether the held one is still its group's last member: with another there (however it got
   * there: configured, added by hand, joined from discovery), the group cannot empty and the
   * held one goes, at the grace's end or at any check after it. Without it, the held one counts
   * as the last until a join releases it.
   */
  readonly last?: ((held: T) => boolean) | undefined;
  /** The grace is over with nothing joined (and the follower still follows): the held server goes now. */
  readonly expired: (held: T) => void;
  /**
   * Whether the held one still answers its clients, and how to hear of changes to that: a held
   * one that answers when the grace is over stays until it no longer does, another member is
   * there, or a join releases it. Discovery cannot tell a server cut off from its backend from
   * a dead one; its clients' live connection can. Without it, the grace's end removes the held
   * one as before.
   */
  readonly liveness?: HeldLiveness<T> | undefined;
  /** The grace is over and the held one still answers: it stays (for a log line). */
  readonly outlasted?: ((held: T) => void) | undefined;
}

/** How a hold learns whether what it holds still answers (see `LastLeaveHoldOptions.liveness`). */
export interface HeldLiveness<T> {
  /** Whether `held` answers now (a FailoverPool's server: a connection up). */
  answers(held: T): boolean;
  /**
   * Calls `changed` at each change that may end the hold, until the function it returns is
   * called: the held one's state, and the group's members (one added by hand tells no one else;
   * a FailoverPool's `watchStates` reports both).
   */
  watch(changed: () => void): () => void;
}

/**
 * The last server of a group (a FailoverPool's, a cluster's server type), kept for
 * `lastLeaveGraceMs` after it left discovery. A backend that stalled past its TTL drops every
 * entry at once although the servers are up, and an empty group fails every call until they
 * have written their entries again. A server that is really gone still leaves when the grace is
 * over (with `liveness`, once nothing of it answers either, or once the group has another
 * member, however it got there: the hold only keeps the group from emptying); meanwhile the
 * pool's own failure handling (connect errors, circuit, health) treats it as it would any dead
 * server, and calls fail as they would have anyway. The follower decides what
 * is last and what a join does with the held server (`release`); this keeps the timer.
 * One server at a time: a group has one last server. With `liveness`, a held server that still
 * answers when the grace is over stays, watched, until it stops answering or is no longer the
 * last: an empty discovery does not take away a server that answers (as Finagle with an empty
 * serverset), nor does it keep one beside another. A closed pool or cluster is not followed:
 * nothing held is removed from it.
 */
export class LastLeaveHold<T> {
  /** What is held: in its grace (`timer`), or past it and still answering (`unwatch`). */
  private held: { readonly value: T; timer?: ReturnType<typeof setTimeout>; unwatch?: () => void } | undefined;

  constructor(private readonly opts: LastLeaveHoldOptions<T>) {}

  /** Whether a leave can be held at all (a grace of 0 applies every leave at once). */
  get enabled(): boolean {
    return this.opts.graceMs > 0;
  }

  /** What is held now, if anything. */
  get value(): T | undefined {
    return this.held?.value;
  }

  /** Holds `value` for the grace. Something held already has no grace left to wait for: it goes now. */
  hold(value: T): void {
    const before = this.release();
    if (before !== undefined) this.opts.expired(before);
    this.held = { value, timer: unrefd(setTimeout(() => this.graceOver(), this.opts.graceMs)) };
  }

  /** The grace is over with nothing joined: the held one goes, unless it stays (then it is watched). */
  private graceOver(): void {
    const held = this.held!;
    held.timer = undefined;
    if (!this.stays(held.value)) return this.expire();
    held.unwatch = this.opts.liveness!.watch(() => this.check());
    this.opts.outlasted?.(held.value);
  }

  /**
   * Whether the held one stays past the grace: still followed (checked first: a closed pool's
   * servers answer no more), still its group's last, and still answering.
   */
  private stays(value: T): boolean {
    const { liveness } = this.opts;
    return liveness !== undefined && this.opts.following() && (this.opts.last?.(value) ?? true) && liveness.answers(value);
  }

  /** Something changed past the grace: the held one goes once it no longer stays. */
  private check(): void {
    const held = this.held;
    if (held === undefined || held.timer !== undefined) return;
    if (!this.stays(held.value)) this.expire();
  }

  /** Gives up what is held: removed, unless following stopped (then it stays, unwatched). */
  private expire(): void {
    const value = this.release();
    if (value !== undefined && this.opts.following()) this.opts.expired(value);
  }

  /** Ends the wait (a join came, or following stopped) and gives what was held, for the follower to keep or remove. */
  release(): T | undefined {
    const held = this.held;
    if (!held) return undefined;
    if (held.timer !== undefined) clearTimeout(held.timer);
    held.unwatch?.();
    this.held = undefined;
    return held.value;
  }
}

/** A held leave alone must not keep a process alive (Node, Bun and Deno timers have unref). */
function unrefd<H>(timer: H): H {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}
