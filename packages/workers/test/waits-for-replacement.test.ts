import { cleanups, memoryLogger, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { HANGS_ON_LOAD_MODULE, hangOnLoad, outcome, serve, startPool } from './harness.js';

// A call that comes while no worker has its module loaded. At start there is none such: `start`
// resolves once every worker has loaded. After a crash, calls wait in the queue for the
// replacement; `loadTimeoutMs` bounds that wait (load-timeout.test.ts), and with it turned off,
// each call's own deadline still does.

const cleanup = cleanups();

/**
 * A pool with the load bound off (loadTimeoutMs 0) and a server in front of it, whose one worker
 * has crashed: its replacement hangs while it loads, for good.
 */
async function crashedAwaitingReplacement() {
  const pool = await startPool({ module: HANGS_ON_LOAD_MODULE, workers: 1, loadTimeoutMs: 0, logger: memoryLogger() });
  cleanup.push(() => pool.destroy());
  const s = await serve(pool);
  cleanup.push(() => s.close());
  hangOnLoad('await');
  expect(await outcome(s.calc.crash())).toMatchObject({ code: 'IO', retry: 'idempotent' });
  return { pool, s };
}

describe('WorkerPool: a call made while the replacement loads', () => {
  it('with loadTimeoutMs 0, a replacement that never loads: a call with a deadline is answered Timeout at it; close() does not wait for that call, ends the replacement and resolves', async () => {
    const { pool, s } = await crashedAwaitingReplacement();
    const waited = outcome(s.calc.add({ a: 1, b: 2 }, { timeoutMs: 300 }));
    await waitFor(() => pool.stats().queued === 1);
    expect(await within(waited, 10_000, 'the call with a deadline')).toMatchObject({ code: 'Timeout' });
    // Nobody waits for that call any more: close() does not wait for it (nor for the replacement to load).
    await within(pool.close(), 10_000, 'close()');
    expect(pool.stats()).toEqual({ state: 'closed', workers: 0, queued: 0, inFlight: 0, crashes: 1, overloaded: 0 });
  });

  it('with loadTimeoutMs 0, close() begun while a call waits for a replacement that never loads: the call is answered Timeout at its deadline, and close() then resolves', async () => {
    const { pool, s } = await crashedAwaitingReplacement();
    const waited = outcome(s.calc.add({ a: 1, b: 2 }, { timeoutMs: 500 }));
    await waitFor(() => pool.stats().queued === 1);
    const closed = pool.close();
    expect(await within(waited, 10_000, 'the call with a deadline')).toMatchObject({ code: 'Timeout' });
    await within(closed, 10_000, 'close()');
    expect(pool.stats()).toEqual({ state: 'closed', workers: 0, queued: 0, inFlight: 0, crashes: 1, overloaded: 0 });
  });

  it('with loadTimeoutMs 0, close() begun while a plain call waits for a replacement that never loads: its client goes, and close() then resolves', async () => {
    const { pool, s } = await crashedAwaitingReplacement();
    const waited = outcome(s.calc.add({ a: 1, b: 2 }));
    await waitFor(() => pool.stats().queued === 1);
    const closed = pool.close();
    s.stream.destroy();
    await waited;
    await within(closed, 10_000, 'close()');
    await waitFor(() => s.server.connections === 0, { what: "the client's connection to end on the server" });
    expect(pool.stats()).toEqual({ state: 'closed', workers: 0, queued: 0, inFlight: 0, crashes: 1, overloaded: 0 });
  });
});

