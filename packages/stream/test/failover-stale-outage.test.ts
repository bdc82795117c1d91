import { ErrorCode, RpcError } from '@skein/core';
import { ManualClock, cleanups, freePort, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type FailedAttempt, type FailoverDecision, type FailoverPoolOptions, type PoolState } from '../src/index.js';
import { transport } from './harness.js';
import { callOn, killedAfterEach, settledYet, str, textOf, type ChildServer } from './pool-harness.js';

const cleanup = cleanups();
const child = killedAfterEach(cleanup);

/** How many times `action` ran on the server at `address`, as it says (its `stats`). */
async function runsOn(pool: FailoverPool, address: string, action: string): Promise<number> {
  const stats = await callOn(pool, address, 'stats');
  return (JSON.parse(stats as string) as { counts: Record<string, number> }).counts[action] ?? 0;
}


/** Servers X and Y, started at once (neither needs the other). */
function bothStarted(): Promise<[ChildServer, ChildServer]> {
  return Promise.all([child('X'), child('Y')]);
}

/** Servers X and Y behind a pool made with `opts`, on a clock the test drives. */
async function xAndY(opts: Omit<FailoverPoolOptions, 'transport' | 'servers' | 'clock'>) {
  const clock = new ManualClock();
  const [x, y] = await bothStarted();
  const pool = new FailoverPool({ transport, clock, servers: [x.address, y.address], ...opts });
  cleanup.push(() => pool.destroy());
  const stateOf = (address: string) => pool.stats().find((st) => st.address === address)!;
  return { x, y, pool, clock, stateOf };
}

interface Failure {
  address: string;
  attempt: number;
  code: ErrorCode;
}

/**
 * Servers X and Y behind a pool whose timers run on a clock the test drives (never advanced: a
 * backoff delay never ends by itself). Both connected; then Y is killed, and its pool backs off.
 * `decide`, when given, is the pool's `shouldFailover` word on each failure (noted either way).
 */
async function yBackingOff(backoffMs = 1000, connectBudgetMs?: number, decide?: (a: FailedAttempt) => FailoverDecision | undefined) {
  const clock = new ManualClock();
  const [x, y] = await bothStarted();
  const failures: Failure[] = [];
  const connects: Record<string, number> = {};
  const pool = new FailoverPool({
    transport,
    clock,
    servers: [x.address, y.address],
    pool: {
      backoff: { initialMs: backoffMs, maxMs: backoffMs },
      ...(connectBudgetMs !== undefined && { connectBudgetMs }),
      onStateChange: (state: PoolState, _: PoolState, address: string) => void (state === 'connecting' && (connects[address] = (connects[address] ?? 0) + 1)),
    },
    shouldFailover: (err, a) => {
      failures.push({ address: a.address, attempt: a.attempt, code: (err as RpcError).code });
      return decide?.(a);
    },
  });
  cleanup.push(() => pool.destroy());
  const stateOf = (address: string) => pool.stats().find((s) => s.address === address)!;
  expect(new Set([textOf(await pool.call('who')), textOf(await pool.call('who'))])).toEqual(new Set(['X', 'Y']));
  y.proc.kill('SIGKILL');
  await y.gone();
  await waitFor(() => stateOf(y.address).state === 'backoff', { what: "Y's pool in backoff" });
  return { x, y, pool, failures, connects, stateOf, clock };
}

/** Calls `who` (idempotent) on X, which hangs, then dies with the call on its connection. */
async function callWhileXDies(s: Awaited<ReturnType<typeof yBackingOff>>): Promise<string | unknown> {
  s.x.proc.kill('SIGSTOP');
  const call = s.pool.call('who', undefined, { idempotent: true }).then(textOf, (e: unknown) => e);
  await waitFor(() => s.stateOf(s.x.address).inFlight === 1, { what: 'the call on X' });
  s.x.proc.kill('SIGKILL');
  await s.x.gone();
  return call;
}

/**
 * Y comes back on its port, its pool not knowing (its backoff delay never ends on this clock);
 * then X dies under an idempotent call, which must run on Y, X's loss its one failure.
 */
async function yBackInBackoffThenXDies(s: Awaited<ReturnType<typeof yBackingOff>>): Promise<void> {
  await child('Y', s.y.port);
  expect(s.stateOf(s.y.address).state).toBe('backoff');
  const call = callWhileXDies(s);
  // Settled, or refused a second time (the old way: then it waits on X for good).
  await within(Promise.race([call, waitFor(() => s.failures.length > 1, { what: 'the call to settle' })]), 15_000, 'the call');
  expect(s.failures).toEqual([{ address: s.x.address, attempt: 0, code: ErrorCode.IO }]);
  expect(await call).toBe('Y');
}

describe('a retry that finds every other server down', () => {
  it('connects to the server in backoff at once and runs there, not refused by its stale outage and sent back to the one just lost', async () => {
    const s = await yBackingOff();
    await yBackInBackoffThenXDies(s);
    expect(s.stateOf(s.y.address).state).toBe('ready');
  });

  it('does so, too, when the outage is older than the connect budget (calls made then would fail at once)', async () => {
    const s = await yBackingOff(600_000, 1_000);
    // Y's outage is now past the budget: a call made on it alone would be Unreachable at once.
    s.clock.advance(2_000);
    await yBackInBackoffThenXDies(s);
  });

  it('a call placed on a server that stays down while another comes back moves on to that one, not waiting out the budget', async () => {
    const s = await yBackingOff();
    // Y back on its port while X dies (its pool knows neither).
    const yBack = child('Y', s.y.port);
    s.x.proc.kill('SIGKILL');
    await s.x.gone();
    await waitFor(() => s.stateOf(s.x.address).state === 'backoff', { what: "X's pool in backoff" });
    await yBack;
    // Two calls at once, round-robin: one of them placed on X, down for good.
    const calls = [0, 1].map(() => s.pool.call('who', undefined, { idempotent: true }).then(textOf));
    expect(await within(Promise.all(calls), 15_000, 'the calls')).toEqual(['Y', 'Y']);
    expect(s.failures.map((f) => [f.address, f.code])).toEqual([[s.x.address, ErrorCode.Unreachable]]);
  });

  it('connects early once per outage: a server truly down fails the call that waited for that connect fast, and later calls fail fast on it without connecting again', async () => {
    const s = await yBackingOff();
    const y = s.y.address;
    const before = s.connects[y]!;
    const call = callWhileXDies(s);
    // The retry goes to Y, every other server down: Y connects at once, is refused, and the call
    // moves on, never sent there (Unreachable), to wait on its last attempt.
    await waitFor(() => s.failures.length >= 2 || undefined, { what: "the retry's failure on Y" });
    expect(s.failures).toEqual([
      { address: s.x.address, attempt: 0, code: ErrorCode.IO },
      { address: y, attempt: 1, code: ErrorCode.Unreachable },
    ]);
    expect(s.connects[y]).toBe(before + 1);
    const queued = () => s.stateOf(s.x.address).queued + s.stateOf(y).queued;
    await waitFor(() => queued() === 1 || undefined, { what: 'the last attempt waiting' });
    // More calls in the same outages: no second early connect on either server; each fails fast
    // where it meets one with retries left, and waits on its last attempt.
    const xBefore = s.connects[s.x.address]!;
    const more = Array.from({ length: 4 }, () => s.pool.call('who', undefined, { idempotent: true }).catch((e: unknown) => e));
    await waitFor(() => queued() === 5 || undefined, { what: 'the calls waiting' });
    expect(s.failures.filter((f) => f.address === y).length).toBeGreaterThan(1);
    expect(s.failures.every((f) => f.code === ErrorCode.Unreachable || f.attempt === 0)).toBe(true);
    expect(s.connects[y]).toBe(before + 1);
    expect(s.connects[s.x.address]).toBe(xBefore);
    s.pool.destroy();
    for (const c of [call, ...more]) expect(await within(c, 10_000, 'a call')).toMatchObject({ code: ErrorCode.Closed });
  });
});

describe('a call waiting on a server down when another comes up', () => {
  /**
   * X and Y both down, their pools backing off (the clock never advanced: no delay ends by
   * itself). X is back on its port but stopped (SIGSTOP: its kernel completes a connect, nothing
   * answers the first ping), Y still down: the calls made now end up waiting on X's hurried
   * connect, which never ends (on Y first, they are refused there, unsent, and move on to X).
   */
  async function waitingOnHungX(makeCalls: (pool: FailoverPool) => Promise<unknown>[], decide?: (a: FailedAttempt) => FailoverDecision | undefined) {
    const s = await yBackingOff(1000, undefined, decide);
    s.x.proc.kill('SIGKILL');
    await s.x.gone();
    await waitFor(() => s.stateOf(s.x.address).state === 'backoff', { what: "X's pool in backoff" });
    const hungX = await child('X', s.x.port);
    hungX.proc.kill('SIGSTOP');
    const calls = makeCalls(s.pool).map((c) => c.catch((e: unknown) => e));
    await waitFor(() => (s.stateOf(s.x.address).queued === calls.length && s.stateOf(s.x.address).state === 'connecting') || undefined, {
      what: "the calls waiting on X's connect",
    });
    return { ...s, calls };
  }

  /** Y comes back and its backoff delay ends: its pool connects, and is ready. */
  async function yUp(s: Awaited<ReturnType<typeof waitingOnHungX>>): Promise<ChildServer> {
    const y = await child('Y', s.y.port);
    s.clock.advance(1000);
    return y;
  }

  it('goes to it, unsent, idempotent or not, without waiting for the connect it waited on; one cancelled meanwhile stays cancelled', async () => {
    const cancel = new AbortController();
    const s = await waitingOnHungX((pool) => [
      pool.call('who', undefined, { idempotent: true }).then(textOf),
      pool.call('record', str('once')).then(textOf),
      pool.call('record', str('cancelled'), { signal: cancel.signal }).then(textOf),
    ]);
    cancel.abort();
    expect(await s.calls[2]).toMatchObject({ code: ErrorCode.Cancelled });
    const y = await yUp(s);
    // The old way: they wait on X's connect, which never ends.
    expect(await within(Promise.all(s.calls.slice(0, 2)), 15_000, 'the calls')).toEqual(['Y', 'Y']);
    expect(y.ran()).toEqual(['once']);
    // Not failed over: moved while waiting, X's connect still under way. The failures are Y's
    // refusals before it came up; none on X: the cancel is the caller's own, no hook is asked of it.
    expect(s.stateOf(s.x.address).state).toBe('connecting');
    expect(s.failures.filter((f) => f.address === s.x.address).map((f) => f.code)).toEqual([]);
  });

  it('goes to a server added to the pool meanwhile, before any call is made to it', async () => {
    // Z listens from the start: only `add` makes it the pool's.
    const [s, z] = await Promise.all([waitingOnHungX((pool) => [pool.call('record', str('added')).then(textOf)]), child('Z')]);
    // Before, nothing made Z's pool connect but a call of its own: the call waited on X's connect.
    expect(s.pool.add(z.address)).toBe(true);
    expect(await within(s.calls[0]!, 15_000, 'the call')).toBe('Z');
    expect(z.ran()).toEqual(['added']);
  });

  it('takes only what is left of its timeout: having waited part of it, it times out on a server that never answers at its first deadline, not a whole timeout later', async () => {
    const timeoutMs = 4000;
    // `slow` held for a minute: Y runs it and never answers within the test.
    const minute = new Uint8Array(4);
    new DataView(minute.buffer).setUint32(0, 60_000, true);
    const s = await waitingOnHungX((pool) => [pool.call('slow', minute, { timeoutMs })]);
    const [call] = s.calls;
    await yUp(s); // 1000 ms of its time spent waiting on X
    await waitFor(() => s.stateOf(s.y.address).inFlight === 1 || undefined, { what: 'the call on Y' });
    s.clock.advance(timeoutMs - 1000 - 1);
    expect(await settledYet(call!)).toBe(false);
    // Its first deadline, and the lateness its timer may take (10 %): a whole timeout on Y would end at 5000.
    s.clock.advance(1 + timeoutMs / 10);
    expect(await settledYet(call!)).toBe(true);
    expect(await call).toMatchObject({ code: ErrorCode.Timeout });
    expect(await runsOn(s.pool, s.y.address, 'slow')).toBe(1);
  });

  it('one with no time left when that server comes up is not moved: its deadline fails it where it waits, and it never runs there', async () => {
    const s = await waitingOnHungX((pool) => [pool.call('record', str('late'), { timeoutMs: 1000 }).then(textOf)]);
    const [call] = s.calls;
    // Y's backoff delay ends, and its connect starts, just past the call's time (1000 ms), before
    // X's queue's tick fails it (up to a period later).
    await child('Y', s.y.port);
    s.clock.advance(1010);
    await waitFor(() => s.stateOf(s.y.address).state === 'ready', { what: 'Y up' });
    expect(await settledYet(call!)).toBe(false);
    expect(s.stateOf(s.x.address).queued).toBe(1);
    s.clock.advance(100);
    expect(await settledYet(call!)).toBe(true);
    expect(await call).toMatchObject({ code: ErrorCode.Timeout });
    expect(await runsOn(s.pool, s.y.address, 'record')).toBe(0);
  });

  it('stays when the server that comes up is one only a redirect brought in, and goes to the next that comes up', async () => {
    const z = await child('Z');
    // `who` refused (by Y, down) is redirected to Z, which the pool brings in for it alone.
    const s = await waitingOnHungX((pool) => [pool.call('record', str('once')).then(textOf)], (a) => (a.action === 'who' ? { redirect: z.address } : undefined));
    // Round-robin: one of two placed on Y, refused there; any on X waits with the first.
    const who = [0, 1].map(() => s.pool.call('who', undefined, { idempotent: true }).then(textOf));
    expect(await within(Promise.race(who), 15_000, 'the redirected call')).toBe('Z');
    expect(await runsOn(s.pool, z.address, 'record')).toBe(0);
    expect(s.stateOf(s.x.address).queued).toBeGreaterThan(0);
    const y = await yUp(s);
    expect(await within(Promise.all([s.calls[0], ...who]), 15_000, 'the calls')).toContain('Y');
    expect(await s.calls[0]).toBe('Y');
    expect(y.ran()).toEqual(['once']);
  });
});

describe('a half-open probe waiting on a server down when another comes up', () => {
  it('moves, and gives its place back: the server, once up, takes the next probe, and its breaker closes', async () => {
    const { x, y, pool, clock, stateOf } = await xAndY({
      circuitBreaker: { minCalls: 3, failureRatio: 0.5, openMs: 1000, halfOpenCalls: 1 },
      pool: { backoff: { initialMs: 5000, maxMs: 5000 } },
    });
    // X's breaker opens (3 of 3 calls failed); Y connected once, then both die and back off.
    for (let i = 0; i < 3; i++) expect(await callOn(pool, x.address, 'overloaded')).toMatchObject({ code: ErrorCode.Overloaded });
    expect(await callOn(pool, y.address, 'who')).toBe('Y');
    expect(stateOf(x.address).circuit).toBe('open');
    for (const c of [x, y]) c.proc.kill('SIGKILL');
    await Promise.all([x.gone(), y.gone()]);
    await waitFor(() => (stateOf(x.address).state === 'backoff' && stateOf(y.address).state === 'backoff') || undefined, { what: 'both pools in backoff' });
    // X back, stopped (its connect hangs), its breaker's open time over: the call is its probe.
    const hungX = await child('X', x.port);
    hungX.proc.kill('SIGSTOP');
    clock.advance(1000);
    const call = pool.call('record', str('probe')).then(textOf);
    await waitFor(() => stateOf(x.address).queued === 1 || undefined, { what: 'the probe waiting on X' });
    expect(stateOf(x.address).circuit).toBe('half-open');
    const y2 = await child('Y', y.port);
    clock.advance(4000); // Y's backoff delay over: it connects, and the probe moves to it
    expect(await within(call, 15_000, 'the call')).toBe('Y');
    expect(y2.ran()).toEqual(['probe']);
    hungX.proc.kill('SIGCONT');
    await waitFor(() => stateOf(x.address).state === 'ready', { what: 'X up' });
    // Its place given back, X takes the next probe (round-robin: one of two), which closes it.
    const who = await within(Promise.all([0, 1].map(() => pool.call('who').then(textOf))), 15_000, 'the calls');
    expect(who.sort()).toEqual(['X', 'Y']);
    expect(stateOf(x.address).circuit).toBe('closed');
    expect(await runsOn(pool, x.address, 'record')).toBe(0); // the probe ran on Y alone
  });
});

describe("a call waiting on a server's first connect when another comes up", () => {
  it('stays where the strategy placed it (no outage): it runs there once its server answers, each call once', async () => {
    const clock = new ManualClock();
    const [a, b] = await Promise.all([child('A'), child('B')]);
    // A's kernel completes the connect; A, stopped, answers nothing until it is let go.
    a.proc.kill('SIGSTOP');
    const pool = new FailoverPool({ transport, clock, servers: [a.address, b.address] });
    cleanup.push(() => pool.destroy());
    const stateOf = (address: string) => pool.stats().find((st) => st.address === address)!;
    // Round-robin: one on A, waiting for its first connect; one on B, which comes up.
    const calls = ['one', 'two'].map((id) => pool.call('record', str(id)).then(textOf));
    const onB = await within(Promise.race(calls), 15_000, "B's call");
    expect(onB).toBe('B');
    expect(stateOf(a.address)).toMatchObject({ state: 'connecting', queued: 1 });
    a.proc.kill('SIGCONT');
    expect((await within(Promise.all(calls), 15_000, 'the calls')).sort()).toEqual(['A', 'B']);
    expect([await runsOn(pool, a.address, 'record'), await runsOn(pool, b.address, 'record')]).toEqual([1, 1]);
  });
});

describe('a waiting call and the strategy, whatever made it wait', () => {
  /** X and Y, both connected, through a pool on a clock the test drives, with `strategy`, `retries` and a state hook of the test's. */
  async function pair(opts: { strategy?: FailoverPoolOptions['strategy']; retries?: number; onStateChange?: (this: unknown, ...a: [PoolState, PoolState, string]) => void }) {
    const s = await xAndY({
      ...(opts.strategy !== undefined && { strategy: opts.strategy }),
      ...(opts.retries !== undefined && { retries: opts.retries }),
      pool: { backoff: { initialMs: 1000, maxMs: 1000 }, ...(opts.onStateChange && { onStateChange: opts.onStateChange }) },
    });
    expect(new Set([textOf(await s.pool.call('who')), textOf(await s.pool.call('who'))])).toEqual(new Set(['X', 'Y']));
    return s;
  }

  it("a picker's choice stands: a call it sends to X, waiting on X's connect, is not moved to Y when Y comes up", async () => {
    let xAddress = '';
    const s = await pair({ strategy: (key) => (key === 'x' ? xAddress : undefined) });
    xAddress = s.x.address;
    for (const c of [s.x, s.y]) {
      c.proc.kill('SIGKILL');
      await c.gone();
    }
    await waitFor(() => s.stateOf(s.x.address).state === 'backoff' && s.stateOf(s.y.address).state === 'backoff', { what: 'both pools in backoff' });
    const hungX = await child('X', s.x.port);
    hungX.proc.kill('SIGSTOP');
    const call = s.pool.call('record', str('x-only'), { route: 'x' }).then(textOf, (e: unknown) => e);
    await waitFor(() => (s.stateOf(s.x.address).queued === 1 && s.stateOf(s.x.address).state === 'connecting') || undefined, { what: "the call waiting on X's connect" });
    const y = await child('Y', s.y.port);
    s.clock.advance(1000);
    await waitFor(() => s.stateOf(s.y.address).state === 'ready', { what: 'Y up' });
    // Moved to Y (before: any server that came up took it), it would run where its picker never sent it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(s.stateOf(s.x.address).queued).toBe(1);
    hungX.proc.kill('SIGCONT');
    expect(await within(call, 15_000, 'the call')).toBe('X');
    expect(hungX.ran()).toEqual(['x-only']);
    expect(y.ran()).toEqual([]);
  });

  /**
   * X first (the leader), with nothing listening at its address and never connected; Y live.
   * X is a port free a moment ago (a connect to it is refused): no process of its own, as none
   * is ever up there, and none dies.
   */
  async function xNeverUp(opts: Omit<FailoverPoolOptions, 'transport' | 'servers' | 'clock'> = {}) {
    const [port, y] = await Promise.all([freePort(), child('Y')]);
    const x = { address: `127.0.0.1:${port}` };
    const pool = new FailoverPool({ transport, clock: new ManualClock(), strategy: 'leader', retries: 0, servers: [x.address, y.address], pool: { backoff: { initialMs: 1000, maxMs: 1000 } }, ...opts });
    cleanup.push(() => pool.destroy());
    return { x, y, pool };
  }

  it.each([
    ['already up', true],
    ['never connected yet', false],
  ])('one waiting on a server whose first connect is refused goes to the other server (%s) at once: not after its timeout', async (_, warm) => {
    const { x, y, pool } = await xNeverUp();
    if (warm) expect(await callOn(pool, y.address, 'who')).toBe('Y');
    // Placed on X (never connected: counted healthy), it waits on X's first connect, with no retry
    // left; refused, X backs off, and (the clock never moving) the call waited for ever before.
    const call = pool.call('record', str('led'), { timeoutMs: 4000 }).then(textOf, (e: unknown) => e);
    expect(await within(call, 15_000, 'the call')).toBe('Y');
    expect(y.ran()).toEqual(['led']);
    expect(pool.stats().find((st) => st.address === x.address)!.state).toBe('backoff');
  });

  it("moves on past a call the caller of another settled meanwhile: a move's failure told at once does not break the walk", async () => {
    // Y takes messages of 4 KiB at most: a larger one moved to it fails there at once, and its
    // caller, told then, cancels the other call waiting on X. The walk met that call unparked,
    // and threw from its microtask (an uncaught exception, which ends a Node process).
    const { y, pool } = await xNeverUp({ pool: { backoff: { initialMs: 1000, maxMs: 1000 }, stream: { limits: { maxMessage: 4096 } } } });
    expect(await callOn(pool, y.address, 'who')).toBe('Y');
    const cancel = new AbortController();
    const big = new Promise<unknown>((resolve) =>
      pool.send('record', new Uint8Array(8192), {}, (err) => {
        cancel.abort();
        resolve(err);
      }),
    );
    const other = pool.call('record', str('other'), { signal: cancel.signal }).then(textOf, (e: unknown) => e);
    expect(await within(big, 15_000, 'the large call')).toMatchObject({ code: ErrorCode.FrameTooLarge });
    expect(await within(other, 15_000, 'the other call')).toMatchObject({ code: ErrorCode.Cancelled });
    expect(y.ran()).toEqual([]);
  });

  it("hands the application's pool.onStateChange its ConnPool as `this`, as a ConnPool alone does", async () => {
    const seen: unknown[] = [];
    const s = await pair({
      onStateChange(this: unknown) {
        seen.push(this);
      },
    });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((t) => t !== undefined && (t as { address?: string }).address !== undefined)).toBe(true);
    expect(new Set(seen.map((t) => (t as { address: string }).address))).toEqual(new Set([s.x.address, s.y.address]));
  });
});
