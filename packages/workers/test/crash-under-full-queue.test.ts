import { waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { CRASH, RUN, countedPool, threadCount } from './counted.js';
import { gate, outcome } from './harness.js';

// A worker that crashes while the input queue is full: each caller reads the truth of its call,
// checked against what the handlers themselves counted (fixtures/counted.mjs).

describe('WorkerPool: a crash while the input queue is full', () => {
  it('Overloaded stays Overloaded (never ran), the calls the worker held may have run, the queued ones run exactly once on the replacement', async () => {
    const { pool, s, threads, counted } = await countedPool({ pool: { maxInFlightPerWorker: 2, maxQueued: 4 } });
    const crash = gate();
    const never = gate();
    const held = [outcome(counted.call(s.stream, CRASH, 'c', crash.msg)), outcome(counted.call(s.stream, RUN, 'h', never.msg))];
    await waitFor(() => counted.runs('c') === 1 && counted.runs('h') === 1);
    const queuedTags = ['q1', 'q2', 'q3', 'q4'];
    const queued = queuedTags.map((t) => outcome(counted.call(s.stream, RUN, t).then((r) => new TextDecoder().decode(r.msg))));
    await waitFor(() => pool.stats().queued === 4);
    const refusedTags = ['o1', 'o2', 'o3'];
    const refused = await Promise.all(refusedTags.map((t) => outcome(counted.call(s.stream, RUN, t))));
    crash.open();
    const mayHaveRun = { code: 'IO', retry: 'idempotent', message: expect.stringMatching(/^action \d: worker 0 exited with code 7 while holding this call; the handler may have run$/) };
    expect(await Promise.all(held)).toEqual([mayHaveRun, mayHaveRun]);
    expect(await Promise.all(queued)).toEqual(queuedTags.map((t) => ({ ok: t })));
    expect(refused).toEqual(refusedTags.map(() => expect.objectContaining({ code: 'Overloaded', retry: 'safe' })));
    // What ran, as the handlers counted it: each held call once, each queued call once, no refused one.
    expect([...['c', 'h'], ...queuedTags, ...refusedTags].map((t) => counted.runs(t))).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 0]);
    expect(counted.loads()).toBe(2);
    expect(pool.stats()).toMatchObject({ workers: 1, queued: 0, inFlight: 0, crashes: 1, overloaded: 3 });
    await within(pool.close(), 20_000, 'close()');
    if (threads !== undefined) await waitFor(() => threadCount() === threads, { what: 'the thread count back' });
  });
});
