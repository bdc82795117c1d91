import { cleanups, deferred, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type FailoverPoolOptions } from '../src/index.js';
import { PING_ACTION } from '../src/wire/protocol.js';
import { transport } from './harness.js';
import { hungServer, localServer, str, textOf, type LocalServer } from './pool-harness.js';

/*
 * One slow party never stalls the others, across servers: a FailoverPool with one server that
 * accepts connections and never answers keeps its calls to the healthy servers flowing. Round-
 * robin does not skip the stuck server (README "Strategies": only unhealthy servers are skipped,
 * and a server whose windows are full is not unhealthy), so its share of the calls waits there,
 * to its timeout, but for those a healthy server has room for as they are made ("Full servers");
 * what must hold is that the rest never wait behind them. What decides is the
 * order of events: the healthy servers' calls finish while the stuck server's are still pending.
 */

const cleanup = cleanups();

/** Long enough never to pass here: what waits on the stuck server is still waiting when the test looks. */
const LONG = 60_000;
const CALLS = 30;

function failover(opts: Omit<FailoverPoolOptions, 'transport'>): FailoverPool {
  const p = new FailoverPool({ transport, ...opts });
  cleanup.push(() => within(p.close(), 10_000, 'pool close'));
  return p;
}

async function healthy(name: string): Promise<LocalServer> {
  const s = await localServer({ who: () => str(name) });
  cleanup.push(() => s.server.close());
  return s;
}

/** Makes `n` calls at once; `settled` counts those done, whatever their outcome. */
function calls(pool: FailoverPool, n: number) {
  const out = { settled: 0, replies: [] as string[], all: [] as Promise<unknown>[] };
  for (let i = 0; i < n; i++) {
    const p = pool.call('who', undefined, { timeoutMs: LONG }).then(
      (r) => void out.replies.push(textOf(r)),
      () => undefined,
    );
    out.all.push(p.finally(() => out.settled++));
  }
  return out;
}

describe('a FailoverPool with one server that never answers', () => {
  it('whose connection is accepted and never answered (not even its first ping): the healthy servers answer their share while its calls wait', async () => {
    const hung = await hungServer();
    cleanup.push(() => hung.close());
    const [a, b] = [await healthy('a'), await healthy('b')];
    // The stuck server first, so that round-robin's first call goes there.
    const pool = failover({ servers: [hung.address, a.address, b.address], pool: { connectBudgetMs: LONG, stream: { keepaliveTimeoutMs: LONG } } });
    const made = calls(pool, CALLS);
    await waitFor(() => (made.replies.length === (2 * CALLS) / 3 && hung.got.some((h) => h.action === PING_ACTION)) || undefined, { what: "the healthy servers' share answered", timeoutMs: 15_000 });
    // The stuck server's share is still waiting for its connection: none of it failed or moved.
    expect(made.settled).toBe((2 * CALLS) / 3);
    expect(made.replies.filter((r) => r === 'a')).toHaveLength(CALLS / 3);
    expect(made.replies.filter((r) => r === 'b')).toHaveLength(CALLS / 3);
  });

  it('whose handler never answers, its window full: the healthy servers answer their share while its calls wait in its window and queue', async () => {
    // Its handlers wait for the gate, which opens only when the test ends (every one then, those that came later too).
    const gate = deferred();
    const stuck = { running: 0 };
    const s = await localServer({ who: async () => (stuck.running++, await gate.promise, str('stuck')) });
    cleanup.push(() => (gate.resolve(), s.server.close()));
    const [a, b] = [await healthy('a'), await healthy('b')];
    // One connection of window 2 to each: of the stuck server's ten calls, two fill its window and eight wait behind them.
    const pool = failover({ servers: [s.address, a.address, b.address], pool: { maxConnections: 1, stream: { window: 2 } } });
    // Opened before the pool closes (cleanups run last first), so that its close need not wait on them.
    cleanup.push(() => gate.resolve());
    const made = calls(pool, CALLS);
    await waitFor(() => (made.replies.length === (2 * CALLS) / 3 && stuck.running === 2) || undefined, { what: "the healthy servers' share answered", timeoutMs: 15_000 });
    expect(made.settled).toBe((2 * CALLS) / 3);
    expect(pool.stats().find((m) => m.address === s.address)).toMatchObject({ inFlight: 2, queued: CALLS / 3 - 2, healthy: true });

    // More calls keep flowing to the healthy ones with the stuck server's window still full. Those
    // the strategy picks for the stuck server go to a healthy one that has room as they are made
    // (README "Full servers"), else wait there: each later call is answered or waits on the
    // stuck server, and none runs there.
    const stuckStats = () => pool.stats().find((m) => m.address === s.address)!;
    const queuedBefore = stuckStats().queued;
    const later = calls(pool, CALLS);
    await waitFor(() => later.replies.length + (stuckStats().queued - queuedBefore) === CALLS || undefined, { what: 'later calls answered or waiting on the stuck server', timeoutMs: 15_000 });
    expect(later.replies.length).toBeGreaterThanOrEqual((2 * CALLS) / 3);
    expect(later.replies.length).toBe(later.settled);
    expect(stuck.running).toBe(2);
    expect(stuckStats()).toMatchObject({ inFlight: 2 });
  });
});
