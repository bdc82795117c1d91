import { ErrorCode, type RpcError } from '@skein/core';
import { cleanups, freePort, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type ActionHandler, type ServerHealthEvent } from '../src/index.js';
import { transport } from './harness.js';
import { localServer, str, type LocalServer } from './pool-harness.js';

// A call whose own signal aborts between its attempts (here: as one fails, from the pool's
// onServerHealth as that failure opens its server's breaker) ends as any aborted call does:
// Cancelled, or Timeout for a timeout reason, `retry: 'never'`, with the last attempt's error as
// its cause and where it may have run in its words; not with that last error (an Unreachable
// said `retry: 'safe'`). What decides the tests is the error and which servers ran the call.

const cleanup = cleanups();

/** Never answers: ends (answering nothing anyone reads) when its call is cancelled or its connection closes. */
const hangs: ActionHandler = (req) => new Promise((resolve) => req.onAbort(() => resolve(str('late'))));

/** A live server, closed after the test. */
async function live(): Promise<LocalServer> {
  const s = await localServer({ who: () => str('live'), hold: hangs });
  cleanup.push(() => s.server.close());
  return s;
}

/** An address nothing listens on: a connect there is refused (Unreachable, `retry: 'safe'`). */
const dead = async (): Promise<string> => `127.0.0.1:${await freePort()}`;

/** A pool over `servers`, first one first, whose `abortAt` server's breaker opening aborts `ac` with `reason`. */
function abortingPool(servers: string[], abortAt: string, ac: AbortController, reason?: unknown): FailoverPool {
  const pool = new FailoverPool({
    transport,
    servers,
    strategy: 'leader',
    retries: 2,
    circuitBreaker: { minCalls: 1, failureRatio: 0.5 },
    onServerHealth: (e: ServerHealthEvent) => {
      if (e.kind === 'circuit-open' && e.address === abortAt) ac.abort(reason);
    },
  });
  cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
  return pool;
}

const failure = (p: Promise<unknown>): Promise<RpcError> => p.then(() => expect.unreachable('the call succeeded'), (e: unknown) => e as RpcError);

describe('a FailoverPool call whose own signal aborts between attempts', () => {
  it('fails Cancelled, never safe, its last attempt\'s Unreachable as cause; no other server is tried', async () => {
    // The live server first: it holds its port, so the dead address cannot be that one.
    const b = await live();
    const a = await dead();
    const ac = new AbortController();
    const pool = abortingPool([a, b.address], a, ac);
    const err = await failure(pool.call('who', undefined, { signal: ac.signal, timeoutMs: 30_000 }));
    expect([err.codeName, err.retry]).toEqual(['Cancelled', 'never']);
    expect([(err.cause as RpcError).codeName, (err.cause as RpcError).retry]).toEqual(['Unreachable', 'safe']);
    expect(err.message).toMatch(/^call cancelled: .*; before another attempt, the last one failed: cannot reach /);
    expect(b.counts.who).toBeUndefined();
  });

  it('fails Timeout when the signal\'s reason is a timeout (AbortSignal.timeout\'s TimeoutError)', async () => {
    const b = await live();
    const a = await dead();
    const ac = new AbortController();
    const pool = abortingPool([a, b.address], a, ac, new DOMException('the caller\'s budget', 'TimeoutError'));
    const err = await failure(pool.call('who', undefined, { signal: ac.signal, timeoutMs: 30_000 }));
    expect([err.codeName, err.retry]).toEqual(['Timeout', 'never']);
    expect(err.message).toMatch(/^call timed out \(its signal: TimeoutError: the caller's budget\); before another attempt, the last one failed: cannot reach /);
    expect((err.cause as RpcError).codeName).toBe('Unreachable');
    expect(b.counts.who).toBeUndefined();
  });

  it('says where an earlier attempt may have run, and never safe, though its last attempt failed unsent', async () => {
    // a's attempt times out (its attemptTimeoutMs: may have run, moved as the call is idempotent); b is down.
    const [a, b] = [await live(), await dead()];
    const ac = new AbortController();
    const pool = abortingPool([a.address, b], b, ac);
    const err = await failure(pool.call('hold', undefined, { signal: ac.signal, timeoutMs: 30_000, attemptTimeoutMs: 200, idempotent: true }));
    expect([err.codeName, err.retry]).toEqual(['Cancelled', 'never']);
    expect((err.cause as RpcError).codeName).toBe('Unreachable');
    expect(err.message).toContain(`an earlier attempt may have executed on ${a.address}`);
    expect(err.message).toMatch(/after 2 attempts\)$/);
    expect(a.counts.hold).toBe(1);
  });
});
