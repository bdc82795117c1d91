import { memoryLogger, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { WorkerPoolOptions } from '../src/index.js';
import { outcome, serve, startPool } from './harness.js';
import { ECHO, LOOP, DEAF, BURN, WAIT, STALLS_MODULE as MODULE } from './fixtures/stalls-actions.js';

// A worker that stops serving without exiting: a handler that blocks its thread (a loop that
// never yields) or that removes the port's listeners without closing it (a deaf worker). The
// pool finds it by the messages it leaves unread for `stallTimeoutMs`, ends it and replaces it;
// every call it held in a batch it took fails IO ("may have run", naming the worker and the
// bound), as after a crash (calls in batches it never took go to another worker:
// untaken-calls.test.ts). A worker busy with short calls, or holding a call whose handler waits without
// blocking, reads its messages and is never ended.

const utf8 = new TextEncoder();
const text = new TextDecoder();
/** Only a safety net: on a pool that does not catch stalls, the tests below hang until it. */
const NET = 15_000;

const cleanup = cleanups();

async function served(opts: Partial<WorkerPoolOptions> = {}) {
  const logger = memoryLogger();
  const pool = await startPool({ module: MODULE, workers: 1, logger, exposeInternalErrors: true, ...opts });
  cleanup.push(() => pool.destroy());
  const s = await serve(pool);
  cleanup.push(() => s.close());
  return { pool, logger, stream: s.stream };
}

type Stream = Awaited<ReturnType<typeof served>>['stream'];
const call = (stream: Stream, action: number, msg = '') => outcome(stream.call(action, utf8.encode(msg)).then((r) => text.decode(r.msg)));
const stalled = (action: number, ms: number) => ({ code: 'IO', retry: 'idempotent', message: `action ${action}: worker 0 made no progress for ${ms} ms while holding this call; the handler may have run` });
const errorLines = (logger: ReturnType<typeof memoryLogger>) => logger.lines.filter((l) => l.level === 'error').map((l) => l.msg);

describe('WorkerPool: a worker that stops serving', () => {
  it('a handler that loops forever: its worker is ended after stallTimeoutMs, the calls it held fail IO (may have run), it is replaced and later calls are answered', async () => {
    const { pool, logger, stream } = await served({ stallTimeoutMs: 300 });
    // One batch: the loop, then an echo the blocked thread never reaches.
    const got = await Promise.all([call(stream, LOOP), call(stream, ECHO, 'a')]);
    expect(got).toEqual([stalled(LOOP, 300), stalled(ECHO, 300)]);
    expect(await call(stream, ECHO, 'b')).toEqual({ ok: 'b' });
    expect(pool.stats()).toMatchObject({ state: 'running', crashes: 1, workers: 1, inFlight: 0, queued: 0 });
    expect(errorLines(logger)).toEqual(['worker 0 made no progress for 300 ms; the 2 calls it held failed (they may have run); replaced']);
  }, NET);

  it("a deaf worker (a handler removed the port's message listeners without closing it): ended after stallTimeoutMs, its calls fail IO, it is replaced", async () => {
    const { pool, logger, stream } = await served({ stallTimeoutMs: 300 });
    // One batch: the deaf handler's, then a call that waits there (a call in a later batch would
    // never be read, and would go to the replacement: untaken-calls.test.ts).
    const got = await Promise.all([call(stream, DEAF), call(stream, WAIT)]);
    expect(got).toEqual([stalled(DEAF, 300), stalled(WAIT, 300)]);
    expect(await call(stream, ECHO, 'b')).toEqual({ ok: 'b' });
    expect(pool.stats()).toMatchObject({ state: 'running', crashes: 1, workers: 1, inFlight: 0, queued: 0 });
    expect(errorLines(logger)).toEqual(['worker 0 made no progress for 300 ms; the 2 calls it held failed (they may have run); replaced']);
  }, NET);

  it('a worker busy with steady short CPU-bound calls for several times the bound, holding a waiting call all along, is never ended', async () => {
    // Long enough that a loaded machine (CI runs two test files at once) never starves the worker
    // thread for a whole bound: at 600 ms one run in three failed with three other suites beside it.
    const bound = 1500;
    const { pool, logger, stream } = await served({ stallTimeoutMs: bound });
    // Held for the whole run: the worker holds a call throughout, so it is watched throughout.
    const waiting = call(stream, WAIT);
    const until = performance.now() + 3 * bound;
    let answered = 0;
    while (performance.now() < until) {
      const round = await Promise.all(Array.from({ length: 4 }, () => call(stream, BURN, '5')));
      expect(round).toEqual(Array(4).fill({ ok: '5' }));
      answered += 4;
    }
    expect(answered).toBeGreaterThan(0);
    expect(pool.stats()).toMatchObject({ crashes: 0, workers: 1, inFlight: 1 });
    expect(errorLines(logger)).toEqual([]);
    await pool.destroy();
    expect(await waiting).toMatchObject({ code: 'IO', message: expect.stringMatching(/was ended by destroy\(\)/) });
  }, NET);

  it('close() with a looping worker ends once the stall is found: the call fails IO and the pool closes', async () => {
    const { pool, stream } = await served({ stallTimeoutMs: 300 });
    const looping = call(stream, LOOP);
    // close() refuses what is not queued yet: the loop is held first.
    while (pool.stats().inFlight === 0) await new Promise((r) => setTimeout(r, 5));
    await pool.close();
    expect(await looping).toEqual(stalled(LOOP, 300));
    expect(pool.stats()).toMatchObject({ state: 'closed', crashes: 1, inFlight: 0 });
  }, NET);

  it('stallTimeoutMs 0 turns the watch off: the pool starts and serves', async () => {
    const { pool, stream } = await served({ stallTimeoutMs: 0 });
    expect(await call(stream, ECHO, 'a')).toEqual({ ok: 'a' });
    expect(pool.stats()).toMatchObject({ crashes: 0, workers: 1 });
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])('stallTimeoutMs %s is refused with InvalidArgument', async (ms) => {
    await expect(startPool({ module: MODULE, workers: 1, stallTimeoutMs: ms })).rejects.toMatchObject({ codeName: 'InvalidArgument', message: expect.stringMatching(/^stallTimeoutMs must be/) });
  });
});
