import { memoryLogger, sleep, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { WorkerPool } from '../src/index.js';
import { FIRST_BACKOFF_MS } from '../src/respawn-backoff.js';
import { CRASH, RUN, countedPool, threadCount } from './counted.js';
import { gate, outcome } from './harness.js';

// close() while a crashed worker is being replaced: close resolves, every call settles saying
// truthfully whether its handler may have run (counted in a file by the handlers themselves), no
// worker thread is left, and no replacement starts once close has begun ending the workers.

const mayHaveRun = { code: 'IO', retry: 'idempotent', message: expect.stringMatching(/worker 0 exited with code 7 while holding this call; the handler may have run$/) };
const unrun = { code: 'Closed', retry: 'safe' };

/** The pool's threads are gone: the count is back to what it was before the pool started. */
async function threadsBackTo(before: number | undefined): Promise<void> {
  if (before !== undefined) await waitFor(() => threadCount() === before, { what: `the thread count back to ${before} (now ${threadCount()})` });
}

describe('WorkerPool: close() while a crashed worker is replaced', () => {
  it('crash, then close before the replacement is ready: the queued calls run once each on it, close resolves, no thread is left', async () => {
    const { pool, s, threads, counted } = await countedPool();
    const crash = gate();
    const crashed = outcome(counted.call(s.stream, CRASH, 'c', crash.msg));
    await waitFor(() => counted.runs('c') === 1);
    const queued = ['q1', 'q2'].map((t) => outcome(counted.call(s.stream, RUN, t).then((r) => new TextDecoder().decode(r.msg))));
    await waitFor(() => pool.stats().queued === 2);
    crash.open();
    // The crash is told after the pool has settled it: the replacement has been started, not loaded.
    expect(await crashed).toMatchObject(mayHaveRun);
    expect(pool.stats().workers).toBe(0);
    await within(pool.close(), 20_000, 'close()');
    expect(await Promise.all(queued)).toEqual([{ ok: 'q1' }, { ok: 'q2' }]);
    expect([counted.runs('c'), counted.runs('q1'), counted.runs('q2')]).toEqual([1, 1, 1]);
    expect(counted.loads()).toBe(2);
    expect(pool.stats()).toEqual({ state: 'closed', workers: 0, queued: 0, inFlight: 0, crashes: 1, overloaded: 0 });
    await threadsBackTo(threads);
  });

  it('crash with nothing queued, then close: the replacement being started is ended, close resolves, no thread is left', async () => {
    const { pool, s, threads, counted } = await countedPool();
    expect(await outcome(counted.call(s.stream, CRASH, 'c'))).toMatchObject(mayHaveRun);
    await within(pool.close(), 20_000, 'close()');
    expect(pool.stats()).toEqual({ state: 'closed', workers: 0, queued: 0, inFlight: 0, crashes: 1, overloaded: 0 });
    await threadsBackTo(threads);
    expect(counted.runs('c')).toBe(1);
  });

  it('close while a replacement waits its turn (backoff) with nothing queued: it is never started', async () => {
    let pool: WorkerPool | undefined;
    let closed: Promise<void> | undefined;
    const logger = memoryLogger();
    const error = logger.error.bind(logger);
    // Close comes while the replacement waits: right after the line that says it will (the exit's own turn).
    logger.error = (obj, msg) => {
      error(obj, msg);
      if (new RegExp(`replaced in ${FIRST_BACKOFF_MS} ms`).test(msg ?? '')) queueMicrotask(() => (closed = pool!.close()));
    };
    const started = await countedPool({ pool: { logger } });
    pool = started.pool;
    const { s, threads, counted } = started;
    // Two workers in a row die answering no call: the second's replacement waits FIRST_BACKOFF_MS.
    const first = outcome(counted.call(s.stream, CRASH, 'c1'));
    const second = outcome(counted.call(s.stream, CRASH, 'c2'));
    expect(await first).toMatchObject(mayHaveRun);
    expect(await second).toMatchObject(mayHaveRun);
    await waitFor(() => closed !== undefined, { what: 'the backoff line' });
    await within(closed!, 20_000, 'close()');
    expect(pool.stats()).toMatchObject({ state: 'closed', workers: 0, crashes: 2 });
    // A replacement would start FIRST_BACKOFF_MS after the line: waited out several times over.
    await sleep(FIRST_BACKOFF_MS * 5);
    expect(counted.loads()).toBe(2);
    await threadsBackTo(threads);
  });

  it('a replacement that fails to load while close drains: the crashed call may have run, the queued ones fail Closed, unrun; close resolves', async () => {
    const { pool, s, threads, counted } = await countedPool();
    const crash = gate();
    const crashed = outcome(counted.call(s.stream, CRASH, 'c', crash.msg));
    await waitFor(() => counted.runs('c') === 1);
    const queued = ['q1', 'q2'].map((t) => outcome(counted.call(s.stream, RUN, t)));
    await waitFor(() => pool.stats().queued === 2);
    const closed = pool.close();
    counted.breakModule();
    crash.open();
    expect(await crashed).toMatchObject(mayHaveRun);
    expect(await Promise.all(queued)).toEqual([expect.objectContaining(unrun), expect.objectContaining(unrun)]);
    await within(closed, 20_000, 'close()');
    expect([counted.runs('q1'), counted.runs('q2'), counted.loads()]).toEqual([0, 0, 1]);
    expect(pool.stats()).toEqual({ state: 'closed', workers: 0, queued: 0, inFlight: 0, crashes: 2, overloaded: 0 });
    await threadsBackTo(threads);
  });
});
