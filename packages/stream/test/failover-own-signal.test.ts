import { ErrorCode, type RpcError } from '@skein/core';
import { cleanups, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type ActionHandler } from '../src/index.js';
import { transport } from './harness.js';
import { localServer, str, textOf, type LocalServer } from './pool-harness.js';

// A call its own signal gave up (Cancelled; Timeout for a timeout reason) is over: a FailoverPool
// asks no hook, spends no retry and marks no server, even when a hook would move a Timeout on.
// What decides the test is which servers ran the call and who leads after, never how long
// anything took: the signal's 100 ms only ends the hanging call soon.

const cleanup = cleanups();

/** Never answers: ends (answering nothing anyone reads) when its call is cancelled or its connection closes. */
const hangs: ActionHandler = (req) => new Promise((resolve) => req.onAbort(() => resolve(str('late'))));

describe('a FailoverPool call whose own signal aborted', () => {
  it('gives up on its first server: a shouldFailover hook keyed on Timeout is not asked, nothing moves', async () => {
    const s: LocalServer[] = [];
    for (const n of ['a', 'b', 'c']) {
      const server = await localServer({ hold: hangs, who: () => str(n) });
      cleanup.push(() => server.server.close());
      s.push(server);
    }
    const [a, b, c] = s as [LocalServer, LocalServer, LocalServer];
    const asked: string[] = [];
    const pool = new FailoverPool({
      transport,
      servers: [a.address, b.address, c.address],
      strategy: 'leader',
      retries: 2,
      circuitBreaker: { minCalls: 1, failureRatio: 0.5 },
      shouldFailover: (err) => (asked.push((err as RpcError).codeName), (err as RpcError).code === ErrorCode.Timeout ? 'next' : undefined),
    });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    expect(textOf(await pool.call('who', undefined))).toBe('a');
    const health = JSON.stringify(pool.stats().map((x) => [x.address, x.healthy, x.circuit, x.ejected]));

    const err = (await pool.call('hold', undefined, { signal: AbortSignal.timeout(100), idempotent: true, timeoutMs: 30_000 }).catch((e: unknown) => e)) as RpcError;
    expect([err.code, err.retry]).toEqual([ErrorCode.Timeout, 'never']);
    expect(err.message).not.toMatch(/after \d+ attempts/);
    expect(asked).toEqual([]);
    expect([a.counts.hold, b.counts.hold, c.counts.hold]).toEqual([1, undefined, undefined]);
    // The leader stays, its breaker as it was.
    expect(textOf(await pool.call('who', undefined))).toBe('a');
    expect(JSON.stringify(pool.stats().map((x) => [x.address, x.healthy, x.circuit, x.ejected]))).toBe(health);
  });
});
