import { ErrorCode, RpcError } from '@skein/core';
import { ManualClock, cleanups, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type PoolState } from '../src/index.js';
import { transport } from './harness.js';
import { childServer, str, textOf, type ChildServer } from './pool-harness.js';

const cleanup = cleanups();

async function child(name: string, port?: number): Promise<ChildServer> {
  const c = await childServer(name, port);
  cleanup.push(() => {
    c.proc.kill('SIGKILL');
    return c.gone();
  });
  return c;
}

interface Failure {
  address: string;
  attempt: number;
  code: ErrorCode;
}

/**
 * Servers X and Y behind a pool whose timers run on a clock the test drives (never advanced: a
 * backoff delay never ends by itself). Both connected; then Y is killed, and its pool backs off.
 */
async function yBackingOff(backoffMs = 1000, connectBudgetMs?: number) {
  const clock = new ManualClock();
  const x = await child('X');
  const y = await child('Y');
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
    shouldFailover: (err, a) => void failures.push({ address: a.address, attempt: a.attempt, code: (err as RpcError).code }),
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
    s.x.proc.kill('SIGKILL');
    await s.x.gone();
    await waitFor(() => s.stateOf(s.x.address).state === 'backoff', { what: "X's pool in backoff" });
    await child('Y', s.y.port);
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
  async function waitingOnHungX(makeCalls: (pool: FailoverPool) => Promise<unknown>[]) {
    const s = await yBackingOff();
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
    // refusals before it came up, and on X only the cancel.
    expect(s.stateOf(s.x.address).state).toBe('connecting');
    expect(s.failures.filter((f) => f.address === s.x.address).map((f) => f.code)).toEqual([ErrorCode.Cancelled]);
  });
});
