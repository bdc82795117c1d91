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
  /** Whether the follower still follows: a watch closed during the grace keeps what is held, as `close()` keeps the membership. */
  readonly following: () => boolean;
  /** The grace is over with nothing joined (and the follower still follows): the held server goes now. */
  readonly expired: (held: T) => void;
}

/**
 * The last server of a group (a FailoverPool's, a cluster's server type), kept for
 * `lastLeaveGraceMs` after it left discovery. A backend that stalled past its TTL drops every
 * entry at once although the servers are up, and an empty group fails every call until they
 * have written their entries again. A server that is really gone still leaves when the grace is
 * over; meanwhile the pool's own failure handling (connect errors, circuit, health) treats it as
 * it would any dead server, and calls fail as they would have anyway. The follower decides what
 * is last and what a join does with the held server (`release`); this keeps the timer.
 * One server at a time: a group has one last server.
 */
export class LastLeaveHold<T> {
  private held: { readonly value: T; readonly timer: ReturnType<typeof setTimeout> } | undefined;

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
    const timer = setTimeout(() => {
      this.held = undefined;
      if (this.opts.following()) this.opts.expired(value);
    }, this.opts.graceMs);
    // A held leave alone must not keep a process alive (Node, Bun and Deno timers have unref).
    (timer as { unref?: () => void }).unref?.();
    this.held = { value, timer };
  }

  /** Ends the wait (a join came, or following stopped) and gives what was held, for the follower to keep or remove. */
  release(): T | undefined {
    const held = this.held;
    if (!held) return undefined;
    clearTimeout(held.timer);
    this.held = undefined;
    return held.value;
  }
}
