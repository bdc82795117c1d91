import { ErrorCode } from '@skein/core';
import { cleanups, deferred, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool } from '../src/index.js';
import { localServer, str, textOf } from './pool-harness.js';
import { transport } from './harness.js';

const cleanup = cleanups();

/*
 * Calls waiting in a ConnPool for room behind full windows: the pool's tick walks them only once
 * one may be due (WaitingCalls.nextDue), so each must still time out by its own deadline, whatever
 * the order they came in and whatever the calls before them wait for.
 */
describe('ConnPool: calls waiting for room', () => {
  it('each times out by its own deadline, a short one queued behind a long one too', async () => {
    const gate = deferred();
    const s = await localServer({ hold: () => gate.promise.then(() => str('held')), op: () => str('op') });
    cleanup.push(() => s.server.close());
    cleanup.push(() => gate.resolve());
    const pool = new ConnPool({ transport, address: s.address, maxConnections: 1, stream: { window: 1 } });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    const held = pool.call('hold');
    await waitFor(() => s.counts.hold === 1);
    const long = pool.call('op', undefined, { timeoutMs: 1_500 });
    const short = pool.call('op', undefined, { timeoutMs: 100 });
    await expect(short).rejects.toMatchObject({ code: ErrorCode.Timeout, message: expect.stringContaining('for a connection and was never sent') });
    expect(pool.stats().queued).toBe(1);
    // Queued after a walk found the long one the next due: still timed out by its own deadline.
    const later = pool.call('op', undefined, { timeoutMs: 100 });
    await expect(later).rejects.toMatchObject({ code: ErrorCode.Timeout });
    expect(pool.stats().queued).toBe(1);
    // And the long one, which every walk so far left waiting, by its own.
    await expect(long).rejects.toMatchObject({ code: ErrorCode.Timeout, message: expect.stringContaining('for a connection and was never sent') });
    expect(pool.stats().queued).toBe(0);
    gate.resolve();
    expect(textOf(await held)).toBe('held');
    expect(textOf(await pool.call('op'))).toBe('op');
    expect(s.counts.op).toBe(1);
  }, 20_000);
});
