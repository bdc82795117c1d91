import type { FailoverPoolOptions } from '@skein/stream';

/**
 * What a flooding client child (flood-client.ts) is told, as JSON in its one argument, and what
 * it hands back: the runner and the child share this file and nothing else.
 */
export interface ClientParams {
  /** The servers its FailoverPool calls `forward` on. */
  readonly servers: readonly string[];
  /** Calls in all, with ids 0, 1, ...; even ids are idempotent. */
  readonly calls: number;
  /** Calls in flight at once. */
  readonly inFlight: number;
  /** Calls started per second at most: spreads the calls over the faults the runner makes. */
  readonly ratePerSecond: number;
  /** Each call's timeout: its FailoverPool's attempts share it (each retry gets what is left). */
  readonly timeoutMs: number;
  /**
   * Past its deadline plus this, a call counts as hung: the client stops waiting for it then,
   * so that a hang is reported (as unsettled) rather than hanging the run.
   */
  readonly graceMs: number;
  /** The client's FailoverPool options that travel as JSON. */
  readonly pool: Omit<FailoverPoolOptions, 'transport' | 'servers' | 'clock' | 'logger' | 'shouldFailover' | 'onMembershipChange' | 'onServerHealth'>;
  /** Where it writes its ClientResults, as JSON, once every call settled (or hung). */
  readonly out: string;
}

/** What the client saw of each call, by id. */
export interface ClientResults {
  /** An Outcome (executions.ts), or 0 for a call that never settled. */
  readonly outcomes: number[];
  /** The error a failed call ended with (`Timeout/idempotent`), '' for the rest. */
  readonly errors: string[];
  /** How long each call took to settle, in ms (-1: never). */
  readonly settledMs: number[];
  /** A call's deadline: its timeout, which bounds all its attempts. */
  readonly deadlineMs: number;
}

/** The lines the client prints: once its pool is made, every few calls started, and once its results are written. */
export const CLIENT_READY = /^flooding$/;
export const CLIENT_STARTED = /^started (\d+)$/;
export const CLIENT_DONE = /^done$/;

/**
 * A call's deadline end to end: its timeout, which a FailoverPool's attempts share (a retry gets
 * what is left, none starts once nothing is). Reached within the pool's ticks, which the runs'
 * grace covers.
 */
export const callDeadlineMs = (p: Pick<ClientParams, 'timeoutMs'>): number => p.timeoutMs;
