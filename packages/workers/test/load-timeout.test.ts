import { cleanups, memoryLogger, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { HANGS_ON_LOAD_MODULE as MODULE, hangOnLoad, outcome, serve, startPool } from './harness.js';

// A worker module that never finishes loading (a top-level loop, or a top-level await that never
// settles) is ended after `loadTimeoutMs`: `start` rejects naming it, and a replacement that
// hangs so is ended and not replaced again, so that the calls waiting for it fail, unrun.

/** Only a safety net: on a pool without the bound, start (or the call) waits for good. */
const NET = 10_000;
/** A bound a module that does load meets even on a loaded machine. */
const LOADS_MS = 4000;

const cleanup = cleanups();

describe('WorkerPool: a module that never finishes loading', () => {
  it.each(['loop', 'await'] as const)('start rejects with InvalidArgument after loadTimeoutMs (a top-level %s that never ends)', async (how) => {
    hangOnLoad(how);
    const logger = memoryLogger();
    const start = startPool({ module: MODULE, workers: 2, loadTimeoutMs: 300, logger });
    await expect(within(start, NET, 'start')).rejects.toMatchObject({ codeName: 'InvalidArgument', message: expect.stringMatching(/^worker pool: worker \d did not load its module within 300 ms$/) });
  }, NET + 1000);

  it('a replacement that hangs while it loads is ended after loadTimeoutMs and not replaced again; the calls waiting for it fail Closed, unrun', async () => {
    const logger = memoryLogger();
    // Room for the first worker to load the real module on a busy machine; the replacement hangs for good.
    const pool = await startPool({ module: MODULE, workers: 1, loadTimeoutMs: LOADS_MS, logger, exposeInternalErrors: true });
    cleanup.push(() => pool.destroy());
    const s = await serve(pool);
    cleanup.push(() => s.close());
    hangOnLoad('loop');
    expect(await outcome(s.calc.crash())).toMatchObject({ code: 'IO', retry: 'idempotent' });
    // Queued for the replacement, which never loads.
    const waiting = outcome(s.calc.add({ a: 1, b: 2 }));
    expect(await within(waiting, NET, 'the waiting call')).toEqual({ code: 'Closed', retry: 'safe', message: 'Calc.add: rpc_closed' });
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([
      'worker 0 exited with code 7; the 1 call it held failed (it may have run); replaced',
      `worker 0 did not load its module within ${LOADS_MS} ms; it held no calls; not replaced`,
    ]);
    expect(pool.stats()).toMatchObject({ state: 'running', workers: 0, crashes: 2, queued: 0 });
  }, LOADS_MS + NET);

  it('loadTimeoutMs 0 turns the bound off: the pool starts and serves', async () => {
    const pool = await startPool({ module: MODULE, workers: 1, loadTimeoutMs: 0 });
    cleanup.push(() => pool.destroy());
    const s = await serve(pool);
    cleanup.push(() => s.close());
    expect(await s.calc.add({ a: 1, b: 2 })).toBe(3);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])('loadTimeoutMs %s is refused with InvalidArgument', async (ms) => {
    await expect(startPool({ module: MODULE, workers: 1, loadTimeoutMs: ms })).rejects.toMatchObject({ codeName: 'InvalidArgument', message: expect.stringMatching(/^loadTimeoutMs must be/) });
  });
});
