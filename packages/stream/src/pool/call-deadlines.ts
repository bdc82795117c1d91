import { ErrorCode, RpcError, extended, invalidArgument, type RemoteError } from '@skein/core';
import type { StreamSettings } from '../client/options.js';
import { TickClock, lateness } from '../internals/tick-clock.js';
import type { FailoverCall } from './failover-call.js';
import { poolTiming } from './conn-pool-options.js';
import type { MemberPoolOptions } from './failover-pool-options.js';
import { outOfTime } from './failover-rules.js';

/*
 * A FailoverPool's calls' time bound: each call's `timeoutMs` bounds all its attempts together
 * (a gRPC deadline), kept in ticked time, with no clock read per call, as the streams' own
 * deadlines are; `attemptTimeoutMs` cuts an attempt short within it. Functions, not a class:
 * the deadline every call takes stays in the pool (`deadlineOf`), reading its own fields with
 * no hop, and a class of TickClock's own would make its `deadline`, which every stream's call
 * runs, see two shapes.
 */

/** What a retry is refused with when the call's time is spent: its final error, and why it went no further. */
export interface OutOfTime {
  readonly err: RpcError | RemoteError;
  readonly why: string | undefined;
}

/**
 * The ticked time of a pool whose ConnPools are made with `memberOpts` and resolve their
 * streams' options to `s`: on their clock, at their tick and default timeout (`poolTiming`, the
 * rule they follow), so that a call's bound is theirs. Nothing happens at its ticks (deadlines
 * are read at retries); its ticker holds no process.
 */
export function startPace(memberOpts: MemberPoolOptions, s: StreamSettings): TickClock {
  const { clock, tickMs } = poolTiming(memberOpts, s.tickMs, 'pool.');
  return new TickClock(clock, tickMs, s.timeoutMs, () => {});
}

/**
 * A call's first attempt cut short by `attemptTimeoutMs` (its own, else the pool's `poolCap`), when
 * that is shorter than the call's timeout; or the error a bad one of its own fails the call with.
 */
export function capFirst(c: FailoverCall, poolCap: number | undefined, defaultTimeoutMs: number): RpcError | undefined {
  const own = c.opts.attemptTimeoutMs;
  if (own !== undefined && !(typeof own === 'number' && own > 0 && own < Infinity)) return invalidArgument(`attemptTimeoutMs must be a positive number, got ${own}`);
  const cap = own ?? poolCap!;
  // A bad timeout of its own (no deadline) is left for its attempt to fail with, not hidden by the cap.
  if (Number.isNaN(c.deadline) || !(cap < (c.opts.timeoutMs ?? defaultTimeoutMs))) return undefined;
  c.sent = extended(c.opts, { timeoutMs: cap });
  c.capped = true;
  return undefined;
}

/**
 * Gives `c`'s next attempt what is left of the call's time (`attemptTimeoutMs`, its own or the
 * pool's `poolCap`, at most), in its pool's ticked time `pace` read with the clock (`now`), so
 * that the deadline its server sees is what is left; or says, as its final error, that no time
 * is left. An attempt that had all that was left and timed out took it all (`answeredEarly`
 * tells when its server said so early instead): no retry then, not even with the sliver the
 * pool's ticks may still show.
 */
export function retimed(c: FailoverCall, err: RpcError | RemoteError, pace: TickClock | undefined, defaultTimeoutMs: number, poolCap: number | undefined): OutOfTime | undefined {
  // A stream without a timeout of its own: nothing bounds it (and `pace` may not be made yet).
  // A bad timeout: its attempts fail with it.
  if (!(c.deadline < Infinity)) return undefined;
  const whole = c.opts.timeoutMs ?? defaultTimeoutMs;
  let left: number | undefined;
  if (!c.capped && err instanceof RpcError && err.code === ErrorCode.Timeout) {
    left = answeredEarly(c, pace!, whole);
    if (left === undefined) return { err, why: `not retried: its timeoutMs (${whole} ms) is spent` };
  } else {
    // Off the clock, as `answeredEarly`: the ticks alone leave out up to a period since the last
    // one, which would go to the next server as time its caller does not wait (a failed
    // attempt's path, never a call's: one clock read).
    left = c.deadline - pace!.now();
    if (!(left > 0)) return { err: outOfTime(err, whole), why: undefined };
  }
  const cap = c.stream ? undefined : (c.opts.attemptTimeoutMs ?? poolCap);
  c.capped = cap !== undefined && cap < left;
  // In whole ms, rounded up (as a call's own timeout is): never short of what is left.
  c.sent = extended(c.opts, { timeoutMs: c.capped ? cap! : Math.ceil(left) });
  return undefined;
}

/**
 * What is left of `c`'s time, when its attempt, which had all that was left, met a Timeout
 * well before that time was over: its server's answer, sent early for reasons of its own (a
 * downstream's timeout), not the attempt's time running out, which its own timer (or its
 * server's, on the deadline it was sent) says at that time or up to `lateness` after. Undefined
 * when less than that is left. Read with the clock, not the ticks alone, which cannot tell a
 * sliver left from none: a failed attempt's path, never a call's.
 */
function answeredEarly(c: FailoverCall, pace: TickClock, whole: number): number | undefined {
  const left = c.deadline - pace.now();
  return left > lateness(c.sent.timeoutMs ?? whole) ? left : undefined;
}
