import { ErrorCode, RpcError } from '@skein/core';
import { ManualClock, cleanups, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type PoolState } from '../src/index.js';
import { transport } from './harness.js';
import { childServer, textOf, type ChildServer } from './pool-harness.js';

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
async function yBackingOff() {
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
      backoff: { initialMs: 1000, maxMs: 1000 },
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
  return { x, y, pool, failures, connects, stateOf };
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

describe('a retry that finds every other server down', () => {
  it('connects to the server in backoff at once and runs there, not refused by its stale outage and sent back to the one just lost', async () => {
    const s = await yBackingOff();
    // Y comes back on its port; its pool does not know (its backoff delay never ends on this clock).
    await child('Y', s.y.port);
    expect(s.stateOf(s.y.address).state).toBe('backoff');

    const call = callWhileXDies(s);
    // Settled, or refused a second time (the old way: then it waits on X for good).
    await within(Promise.race([call, waitFor(() => s.failures.length > 1, { what: 'the call to settle' })]), 15_000, 'the call');
    expect(s.failures).toEqual([{ address: s.x.address, attempt: 0, code: ErrorCode.IO }]);
    expect(await call).toBe('Y');
    expect(s.stateOf(s.y.address).state).toBe('ready');
  });

  it('connects early once per outage: a server truly down is then left to its backoff', async () => {
    const s = await yBackingOff();
    const before = s.connects[s.y.address]!;
    const call = callWhileXDies(s);
    // The retry waits on Y, which connects at once, is refused, and backs off again.
    const yAgain = () => s.connects[s.y.address] === before + 1 && s.stateOf(s.y.address).state === 'backoff' && s.stateOf(s.y.address).queued === 1;
    // Or refused a second time (the old way).
    await waitFor(() => s.failures.length > 1 || yAgain(), { what: "Y's early connect" });
    expect(s.failures).toHaveLength(1);
    const xBefore = s.connects[s.x.address]!;
    // More calls, with no server up: they wait too (round-robin: on both), and neither connects early again.
    const more = Array.from({ length: 4 }, () => s.pool.call('who', undefined, { idempotent: true }).catch((e: unknown) => e));
    await waitFor(() => s.stateOf(s.x.address).queued + s.stateOf(s.y.address).queued === 5, { what: 'the calls waiting' });
    expect(s.stateOf(s.y.address).queued).toBeGreaterThan(1);
    expect(s.connects[s.y.address]).toBe(before + 1);
    // X's own outage, begun with the lost connection: one early connect of its own at most.
    expect(s.connects[s.x.address]).toBeLessThanOrEqual(xBefore + 1);
    expect(s.failures).toEqual([{ address: s.x.address, attempt: 0, code: ErrorCode.IO }]);
    s.pool.destroy();
    for (const c of [call, ...more]) expect(await within(c, 10_000, 'a call')).toMatchObject({ code: ErrorCode.Closed });
  });
});
