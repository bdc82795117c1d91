import { ErrorCode, RpcError } from '@skein/core';
import { ManualClock, cleanups, deferred, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type ActionHandler, type FailoverPoolOptions, type Reply } from '../src/index.js';
import { transport } from './harness.js';
import { localServer, str, textOf, type LocalServer } from './pool-harness.js';

// A FailoverPool call's timeoutMs (its own, else the pool's stream default) bounds the whole
// call, every attempt together; `attemptTimeoutMs` caps each attempt within it. What decides
// these tests is which servers saw the call and what deadline they were given, never how long
// anything took: the small timeouts only make a hanging server's attempt end soon.

const cleanup = cleanups();

function failover(opts: Omit<FailoverPoolOptions, 'transport'>): FailoverPool {
  const p = new FailoverPool({ transport, ...opts });
  cleanup.push(() => within(p.close(), 10_000, 'pool close'));
  return p;
}

/** Never answers: ends (answering nothing anyone reads) when its call is cancelled, times out, or its connection closes. */
const hangs: ActionHandler = (req) => new Promise((resolve) => req.onAbort(() => resolve(str('late'))));

/** Answers the ms its call had left when it came (`none` without a deadline). */
const tellsDeadline: ActionHandler = (req) => str(String(req.remainingMs() ?? 'none'));

/** Servers a, b, c: a hangs; b and c answer the deadline they saw. The pool's leader is a. */
async function hangingFirst(opts: Omit<FailoverPoolOptions, 'transport' | 'servers'> = {}) {
  const s: LocalServer[] = [];
  for (const n of ['a', 'b', 'c']) {
    const server = await localServer({ op: n === 'a' ? hangs : tellsDeadline });
    cleanup.push(() => server.server.close());
    s.push(server);
  }
  const [a, b, c] = s as [LocalServer, LocalServer, LocalServer];
  const pool = failover({ servers: [a.address, b.address, c.address], strategy: 'leader', retries: 2, ...opts, pool: { stream: { tickMs: 20 }, ...opts.pool } });
  // Connected to a first (a call a's router does not know, answered at once): a call waiting for a
  // connect slowed by a loaded machine past its 200 ms moved, unsent, to b, and succeeded there.
  await new Promise<void>((resolve) => pool.sendTo(a.address, 'warm', new Uint8Array(0), {}, () => resolve()));
  return { a, b, c, pool };
}

describe("a FailoverPool call's timeoutMs bounds the whole call", () => {
  it('an idempotent call that times out on a hanging server is not sent to another: its time is spent', async () => {
    const { a, b, c, pool } = await hangingFirst();
    const err = (await pool.call('op', undefined, { timeoutMs: 200, idempotent: true }).catch((e: unknown) => e)) as RpcError;
    expect([err.code, err.retry]).toEqual([ErrorCode.Timeout, 'idempotent']);
    expect(err.message).toMatch(/\(the call may have executed on 127\.0\.0\.1:\d+; not retried: its timeoutMs \(200 ms\) is spent\)$/);
    expect(a.counts.op).toBe(1);
    expect(b.counts.op).toBeUndefined();
    expect(c.counts.op).toBeUndefined();
  });

  it("the pool's default timeout (pool.stream.timeoutMs) bounds a call without one of its own the same way", async () => {
    const { a, b, c, pool } = await hangingFirst({ pool: { stream: { tickMs: 20, timeoutMs: 200 } } });
    const err = (await pool.call('op', undefined, { idempotent: true }).catch((e: unknown) => e)) as RpcError;
    expect([err.code, err.retry]).toEqual([ErrorCode.Timeout, 'idempotent']);
    expect(err.message).toMatch(/not retried: its timeoutMs \(200 ms\) is spent\)$/);
    expect(a.counts.op).toBe(1);
    expect(b.counts.op).toBeUndefined();
    expect(c.counts.op).toBeUndefined();
  });
});

/** A Timeout of a server's own (its downstream's, say), long before the call's time is over. */
const downstreamTimeout = (): RpcError => new RpcError(ErrorCode.Timeout, 'its downstream timed out');

/** Answers every call at once with that Timeout. */
const timesOutAtOnce: ActionHandler = () => {
  throw downstreamTimeout();
};

/**
 * Servers a and b: a answers Timeout (`op`: at once, unless given another); b answers the
 * deadline it saw, and is connected to already (a call of its own, `warm`), so that a retry
 * there goes out at once rather than through its ConnPool's wait for a first connection, which
 * pads a deadline by a tick of its own. `clock`: the pool's and its ConnPools'.
 */
async function earlyTimeoutFirst(op: ActionHandler = timesOutAtOnce, clock?: ManualClock) {
  const a = await localServer({ op });
  const b = await localServer({ op: tellsDeadline, warm: () => str('') });
  cleanup.push(() => a.server.close(), () => b.server.close());
  // On a manual clock, no keepalive: a jump of seconds would time out its pings before the loop reads their answers.
  const stream = clock ? { tickMs: 100, keepaliveMs: 0 } : { tickMs: 20 };
  const pool = failover({ servers: [a.address, b.address], strategy: 'leader', retries: 2, clock, pool: { clock, stream } });
  await new Promise<Reply | null>((resolve, reject) => pool.sendTo(b.address, 'warm', str(''), {}, (err, r) => (err ? reject(err) : resolve(r))));
  return { a, b, pool };
}

/** A server's `op` that answers Timeout when the test says (`answer`), as one whose downstream timed out would. */
function timesOutOnCue() {
  const cue = deferred();
  const op: ActionHandler = async () => {
    await cue.promise;
    throw downstreamTimeout();
  };
  cleanup.push(() => cue.resolve());
  return { op, answer: () => cue.resolve() };
}

describe("a Timeout a server answers early, with the call's time still left (no attemptTimeoutMs)", () => {
  it('an idempotent call is retried on the next server, given what is left of its timeoutMs', async () => {
    const { a, b, pool } = await earlyTimeoutFirst();
    const r = await pool.call('op', undefined, { timeoutMs: 10_000, idempotent: true });
    // b was given what was left: a deadline, below the call's bound.
    const seen = Number(textOf(r));
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(10_000);
    expect([a.counts.op, b.counts.op]).toEqual([1, 1]);
  });

  it('a call that is not idempotent is not: the attempt that answered Timeout may have run', async () => {
    const { a, b, pool } = await earlyTimeoutFirst();
    const err = (await pool.call('op', undefined, { timeoutMs: 10_000 }).catch((e: unknown) => e)) as RpcError;
    expect([err.code, err.retry]).toEqual([ErrorCode.Timeout, 'idempotent']);
    expect(err.message).toMatch(/^rpc_timeout \(the call may have executed on 127\.0\.0\.1:\d+; not retried: it is not idempotent\)$/);
    expect([a.counts.op, b.counts.op]).toEqual([1, undefined]);
  });

  it("what is left is read off the pool's clock, between its ticks too: 4.05 s into a 10 s call, the retry's deadline is 5.95 s", async () => {
    const clock = new ManualClock();
    const { op, answer } = timesOutOnCue();
    const { a, b, pool } = await earlyTimeoutFirst(op, clock);
    const call = pool.call('op', undefined, { timeoutMs: 10_000, idempotent: true });
    await waitFor(() => a.counts.op === 1);
    // 40 of the pool's 100 ms ticks, and half of the next: its ticks alone say 6 s are left.
    clock.advance(4_050);
    answer();
    const seen = Number(textOf(await within(call, 10_000, 'the retry on b')));
    // b's own clock is the system's: what it sees is what was sent, less the ms since it came.
    expect(seen).toBeGreaterThan(5_000);
    expect(seen).toBeLessThanOrEqual(5_950);
    expect([a.counts.op, b.counts.op]).toEqual([1, 1]);
  });

  it("so after any failed attempt: 4.05 s into a 10 s call refused unrun (bare Overloaded), the retry's deadline is at most 5.95 s, not the 6 s its ticks say", async () => {
    const clock = new ManualClock();
    const cue = deferred();
    cleanup.push(() => cue.resolve());
    // Refuses the call unrun when the test says, as a throttle would: safe to send elsewhere.
    const refusesOnCue: ActionHandler = async (req) => {
      await cue.promise;
      req.fail(ErrorCode.Overloaded);
    };
    const { a, b, pool } = await earlyTimeoutFirst(refusesOnCue, clock);
    const call = pool.call('op', undefined, { timeoutMs: 10_000 });
    await waitFor(() => a.counts.op === 1);
    clock.advance(4_050);
    cue.resolve();
    const seen = Number(textOf(await within(call, 10_000, 'the retry on b')));
    expect(seen).toBeGreaterThan(5_000);
    expect(seen).toBeLessThanOrEqual(5_950);
    expect([a.counts.op, b.counts.op]).toEqual([1, 1]);
  });

  it("one answered within the attempt's timers' lateness of its end (max(10 %, 50 ms) of it) counts as its time spent: not retried", async () => {
    const clock = new ManualClock();
    const { op, answer } = timesOutOnCue();
    const { a, b, pool } = await earlyTimeoutFirst(op, clock);
    const call = pool.call('op', undefined, { timeoutMs: 10_000, idempotent: true }).catch((e: unknown) => e);
    await waitFor(() => a.counts.op === 1);
    // 950 ms left of 10 s: less than its 1 s lateness, as near its end as its own timer may fire.
    clock.advance(9_050);
    answer();
    const err = (await within(call, 10_000, 'the call to end')) as RpcError;
    expect([err.code, err.retry]).toEqual([ErrorCode.Timeout, 'idempotent']);
    expect(err.message).toMatch(/\(the call may have executed on 127\.0\.0\.1:\d+; not retried: its timeoutMs \(10000 ms\) is spent\)$/);
    expect([a.counts.op, b.counts.op]).toEqual([1, undefined]);
  });

  it("after an attempt attemptTimeoutMs cut short, the attempt that had all that was left is judged by its own timeout's lateness, not the call's", async () => {
    const clock = new ManualClock();
    const onA = timesOutOnCue();
    const onB = timesOutOnCue();
    const warm = () => str('');
    const a = await localServer({ op: onA.op });
    const b = await localServer({ op: onB.op, warm });
    const c = await localServer({ op: tellsDeadline, warm });
    cleanup.push(() => a.server.close(), () => b.server.close(), () => c.server.close());
    const pool = failover({ servers: [a.address, b.address, c.address], strategy: 'leader', retries: 2, clock, pool: { clock, stream: { tickMs: 100, keepaliveMs: 0 } } });
    // Connected already, so that a retry there goes out at once (see earlyTimeoutFirst).
    for (const to of [b.address, c.address]) await new Promise<Reply | null>((resolve, reject) => pool.sendTo(to, 'warm', str(''), {}, (err, r) => (err ? reject(err) : resolve(r))));
    const call = pool.call('op', undefined, { timeoutMs: 10_000, attemptTimeoutMs: 6_000, idempotent: true });
    await waitFor(() => a.counts.op === 1);
    // a's attempt, cut to 6 s, answers Timeout 4.5 s in: 5.5 s left, under the cap, all of it b's.
    clock.advance(4_500);
    onA.answer();
    await waitFor(() => b.counts.op === 1, { what: "b's attempt" });
    // b's answers 4.8 s into its 5.5 s: 700 ms left, past its own timers' lateness (550 ms) though
    // not past the whole 10 s call's (1 s): b's time was not over, so the call goes on to c.
    clock.advance(4_800);
    onB.answer();
    const seen = Number(textOf(await within(call, 10_000, 'the retry on c')));
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThanOrEqual(700);
    expect([a.counts.op, b.counts.op, c.counts.op]).toEqual([1, 1, 1]);
  });
});

describe('attemptTimeoutMs: a cap on each attempt within the whole call', () => {
  it("a call's own: its first attempt gives up a hanging server in time for the next, whose deadline is the cap, not the call's whole timeout", async () => {
    const { a, b, c, pool } = await hangingFirst();
    const r = await pool.call('op', undefined, { timeoutMs: 10_000, attemptTimeoutMs: 100, idempotent: true });
    // b's attempt was given min(100, what was left), never the call's 10 s (its ConnPool, which
    // waited for its first connection, sends what is left of the 100 ms by its ticks: a tick more at most).
    expect(Number(textOf(r))).toBeLessThan(1_000);
    expect([a.counts.op, b.counts.op, c.counts.op]).toEqual([1, 1, undefined]);
  });

  it("the pool's: caps the attempts of a call without a timeout of its own too, and the retry sends its deadline", async () => {
    const { a, b, pool } = await hangingFirst({ attemptTimeoutMs: 100, pool: { stream: { tickMs: 20, timeoutMs: 10_000 } } });
    const r = await pool.call('op', undefined, { idempotent: true });
    expect(Number(textOf(r))).toBeLessThan(1_000);
    expect([a.counts.op, b.counts.op]).toEqual([1, 1]);
  });

  it("a call's own wins over the pool's", async () => {
    const { a, b, pool } = await hangingFirst({ attemptTimeoutMs: 60_000 });
    const r = await pool.call('op', undefined, { timeoutMs: 5_000, attemptTimeoutMs: 100, idempotent: true });
    expect(Number(textOf(r))).toBeLessThan(1_000);
    expect([a.counts.op, b.counts.op]).toEqual([1, 1]);
  });

  it('a call that is not idempotent is still never sent twice: the attempt that timed out may have run', async () => {
    const { a, b, c, pool } = await hangingFirst({ attemptTimeoutMs: 100 });
    const err = (await pool.call('op', undefined, { timeoutMs: 10_000 }).catch((e: unknown) => e)) as RpcError;
    expect([err.code, err.retry]).toEqual([ErrorCode.Timeout, 'idempotent']);
    // Its attempt ended at the cap (the client's Timeout or the server's, whichever came first),
    // long before its 10 s; the rule that keeps it from a second server is unchanged.
    expect(err.message).toMatch(/\(the call may have executed on 127\.0\.0\.1:\d+; not retried: it is not idempotent\)$/);
    expect([a.counts.op, b.counts.op, c.counts.op]).toEqual([1, undefined, undefined]);
  });

  it('is refused unless a positive number of ms, on the pool when it is made and on a call before it is sent', async () => {
    const { a, pool } = await hangingFirst();
    for (const bad of [0, -1, Number.NaN, Infinity, '100']) {
      expect(() => new FailoverPool({ transport, servers: [a.address], attemptTimeoutMs: bad as number })).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidArgument, message: `attemptTimeoutMs must be a positive number, got ${String(bad)}` }),
      );
      const err = (await pool.call('op', undefined, { attemptTimeoutMs: bad as number }).catch((e: unknown) => e)) as RpcError;
      expect([err.code, err.message]).toEqual([ErrorCode.InvalidArgument, `attemptTimeoutMs must be a positive number, got ${String(bad)}`]);
    }
    expect(a.counts.op).toBeUndefined();
  });

  it("does not hide a call's bad timeoutMs: the call fails with it, unsent, as without the cap", async () => {
    const { a, pool } = await hangingFirst({ attemptTimeoutMs: 100 });
    const err = (await pool.call('op', undefined, { timeoutMs: '300' as unknown as number, idempotent: true }).catch((e: unknown) => e)) as RpcError;
    expect([err.code, err.message]).toEqual([ErrorCode.InvalidArgument, 'timeoutMs must be a positive number, got 300']);
    expect(a.counts.op).toBeUndefined();
  });
});
