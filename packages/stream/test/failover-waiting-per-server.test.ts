import { ErrorCode, RpcError } from '@skein/core';
import { ManualClock, cleanups, tmpSocketPath, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type PoolState } from '../src/index.js';
import { transport } from './harness.js';
import { hungServer } from './pool-harness.js';

const cleanup = cleanups();

/** W calls waiting on one server, K servers down besides it: enough to tell K·W (400,000) from K + W. */
const W = 2000;
const K = 200;

/**
 * Counts the elements of Sets of at least `min` elements that are iterated (spread, or walked
 * with for-of) while `run` runs: the pool's calls waiting on a server are the only Sets that
 * large here, so this counts the waiting calls the pool looks at, however it keeps them.
 */
async function walkedFrom(min: number, run: () => unknown): Promise<number> {
  const proto = Set.prototype as unknown as Record<symbol, () => Iterator<unknown>>;
  const orig = proto[Symbol.iterator]!;
  let walked = 0;
  proto[Symbol.iterator] = function (this: Set<unknown>) {
    if (this.size >= min) walked += this.size;
    return orig.call(this);
  };
  try {
    await run();
  } finally {
    proto[Symbol.iterator] = orig;
  }
  return walked;
}

/** Routes a call to the server its route key names, healthy or not: a call waiting there stays (no other server is where it goes). */
const byKey = (key: string | undefined): string | undefined => key;

/**
 * S (hung: its first connect never completes, so its pool stays up, connecting) and `K` servers
 * down (Unix socket paths nothing listens on: each connect refused at once, no port taken), each
 * pool backing off after a call of its own, on a clock only the test advances. Then `W` calls
 * routed to one of them (`at`: S, or the first server down), waiting there unsent.
 */
async function waitingOnOneOfMany(at: 'up' | 'down') {
  const s = await hungServer();
  cleanup.push(() => s.close());
  const down = Array.from({ length: K }, () => `unix:${tmpSocketPath('skein-down')}`);
  const clock = new ManualClock();
  const connects = { count: 0 };
  const pool = new FailoverPool({
    transport,
    clock,
    servers: [s.address, ...down],
    strategy: byKey,
    retries: 0,
    pool: {
      maxQueued: 2 * W,
      connectBudgetMs: 600_000,
      backoff: { initialMs: 1000, maxMs: 1000 },
      onStateChange: (state: PoolState) => void (state === 'connecting' && connects.count++),
    },
  });
  cleanup.push(() => pool.destroy());
  await Promise.all(down.map((a) => new Promise((resolve) => pool.sendTo(a, 'who', new Uint8Array(), { failFast: true }, resolve))));
  const downBackingOff = () => pool.stats().every((st) => st.address === s.address || st.state === 'backoff') || undefined;
  await waitFor(downBackingOff, { what: 'the servers down backing off' });
  const target = pool.stats()[at === 'up' ? 0 : 1]!.address;
  const queued = () => pool.stats().find((st) => st.address === target)?.queued;
  const calls = Array.from({ length: W }, () => pool.call('who', new Uint8Array(), { route: target }).catch((e: unknown) => e));
  await waitFor(() => queued() === W || undefined, { what: 'all calls waiting' });
  return { s, pool, clock, calls, connects, downBackingOff, queued };
}

describe('FailoverPool: calls waiting on a server down are kept by their server', () => {
  it('replace() removing K servers down looks at none of the W calls waiting on the server that stays (not K·W)', async () => {
    const { s, pool, calls } = await waitingOnOneOfMany('up');
    // Each server removed had a pool backing off: each was a leave that takes its own waiting calls.
    const walked = await walkedFrom(W, () => void pool.replace([s.address]));
    // Their own calls only (none): S's W calls are not walked, where one walk per server removed walked K·W.
    expect(walked).toBe(0);
    expect(pool.size).toBe(1);
    // The calls still wait on S, where they were, none failed or moved.
    expect(pool.stats()[0]!.queued).toBe(W);
    pool.destroy();
    const errs = await Promise.all(calls);
    expect(errs.every((e) => e instanceof RpcError && e.code === ErrorCode.Closed)).toBe(true);
  });

  it('a change that only removes servers walks none of the W calls waiting on a server down that stays; one that adds a server walks them once', async () => {
    const { s, pool, calls, queued } = await waitingOnOneOfMany('down');
    const d0 = pool.stats()[1]!.address;
    // S healthy (its first connect), D0 down with the W calls its route keeps there, K - 1 others down removed.
    const removed = await walkedFrom(W, async () => {
      void pool.replace([s.address, d0]);
      await new Promise((resolve) => setImmediate(resolve)); // past any walk the change queued (a microtask on)
    });
    // A leave adds no server that could take them: before, the change's walk looked at all W.
    expect(removed).toBe(0);
    expect(pool.size).toBe(2);
    // A server added may take them: one walk of D0's W (they stay, their route naming D0).
    const added = await walkedFrom(W, async () => {
      pool.add(`unix:${tmpSocketPath('skein-joined')}`);
      await new Promise((resolve) => setImmediate(resolve));
    });
    expect(added).toBe(W);
    expect(queued()).toBe(W);
    pool.destroy();
    await Promise.all(calls);
  });

  it("each server down backing off again looks only at its own waiting calls, not at every server down's (W, not K·W)", async () => {
    const { pool, clock, calls, connects, downBackingOff, queued } = await waitingOnOneOfMany('down');
    const before = connects.count;
    // The W calls wait on the first server down, their route keeping them there. Every server down reconnects, is refused and backs off again: a change
    // each, which may move its own calls only.
    const walked = await walkedFrom(W, async () => {
      clock.advance(1000);
      await waitFor(() => (connects.count >= before + K && downBackingOff()) || undefined, { what: 'the servers down backing off again' });
      // What each backoff queued has run (a microtask on).
      await new Promise((resolve) => setImmediate(resolve));
    });
    expect(connects.count).toBeGreaterThanOrEqual(before + K);
    // Its own backoff walks the W once; a walk of every server down per change walks K·W.
    expect(walked).toBeLessThan(2 * W);
    expect(queued()).toBe(W);
    pool.destroy();
    await Promise.all(calls);
  });
});
