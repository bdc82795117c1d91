import { waitFor, within } from '@skein/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { QueueBound } from '../src/queue-bound.js';
import { RUN, countedPool } from './counted.js';
import { gate, outcome } from './harness.js';

// While close() waits, each call given up has the queue pruned of the calls nobody waits for. A
// storm of cancels read in one turn must not walk the queue once per cancel: with calls still
// waited for in it, that is a walk of the whole queue per cancel, quadratic in the queue.

afterEach(() => vi.restoreAllMocks());

const CANCELLED = 200;
const LIVE = 50;

describe('WorkerPool: calls given up while close() waits', () => {
  it('a storm of cancels prunes the queue once per turn, not once per cancel; the calls still waited for run, the cancelled never', async () => {
    const { pool, s, counted } = await countedPool();
    const g = gate();
    const held = outcome(counted.call(s.stream, RUN, 'held', g.msg));
    await waitFor(() => counted.runs('held') === 1, { what: 'the held call running' });
    const live = Array.from({ length: LIVE }, (_, i) => outcome(counted.call(s.stream, RUN, `live-${i}`)));
    const ac = new AbortController();
    const body = (tag: string) => new TextEncoder().encode(JSON.stringify({ tag }));
    const cancelled = Array.from({ length: CANCELLED }, (_, i) => outcome(s.stream.call(RUN, body(`cancelled-${i}`), { signal: ac.signal })));
    await waitFor(() => pool.stats().queued === LIVE + CANCELLED, { what: 'every call queued' });
    const closed = pool.close();
    const prunes = vi.spyOn(QueueBound.prototype, 'pruneUnwaited');
    ac.abort();
    await Promise.all(cancelled);
    await waitFor(() => pool.stats().queued === LIVE, { what: 'the cancelled calls pruned' });
    // One prune per turn the cancels were read in (a few reads at most), not one per cancel.
    expect(prunes.mock.calls.length).toBeLessThan(CANCELLED / 4);
    g.open();
    expect(await held).toEqual({ ok: expect.anything() });
    expect((await Promise.all(live)).every((o) => (o as { ok?: unknown }).ok !== undefined)).toBe(true);
    await within(closed, 20_000, 'close()');
    expect(Array.from({ length: CANCELLED }, (_, i) => counted.runs(`cancelled-${i}`)).filter((n) => n !== 0)).toEqual([]);
    expect(Array.from({ length: LIVE }, (_, i) => counted.runs(`live-${i}`))).toEqual(Array(LIVE).fill(1));
  });
});
