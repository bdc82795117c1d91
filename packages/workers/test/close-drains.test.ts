import { waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { RUN, countedPool } from './counted.js';
import { gate, outcome } from './harness.js';

// A graceful close: what was queued and held finishes, what comes after is refused unrun; and a
// handler that never ends, which close() alone does not bound.

describe('WorkerPool: close() drains', () => {
  it('the held and queued calls finish, each run once; a call that comes after close began is refused Closed and never runs', async () => {
    const { pool, s, counted } = await countedPool();
    const g = gate();
    const before = ['h', 'q1', 'q2'].map((t, i) => outcome(counted.call(s.stream, RUN, t, i === 0 ? g.msg : undefined).then((r) => new TextDecoder().decode(r.msg))));
    await waitFor(() => pool.stats().inFlight === 1 && pool.stats().queued === 2);
    const closed = pool.close();
    expect(await outcome(counted.call(s.stream, RUN, 'late'))).toEqual(expect.objectContaining({ code: 'Closed', retry: 'safe' }));
    g.open();
    expect(await Promise.all(before)).toEqual([{ ok: 'h' }, { ok: 'q1' }, { ok: 'q2' }]);
    await within(closed, 20_000, 'close()');
    expect(['h', 'q1', 'q2', 'late'].map((t) => counted.runs(t))).toEqual([1, 1, 1, 0]);
  });

  it("a handler that never ends holds close(), which has no bound of its own, until the server's close ends its connection: the caller reads IO, may have run", async () => {
    const { pool, s, counted } = await countedPool({ server: { closeWaitMs: 200 } });
    const never = gate();
    const call = outcome(counted.call(s.stream, RUN, 'forever', never.msg));
    await waitFor(() => counted.runs('forever') === 1);
    let settled = false;
    const closed = pool.close().then(() => (settled = true));
    // A round trip through the closing pool (refused): close is still waiting for the held call.
    expect(await outcome(counted.call(s.stream, RUN, 'late'))).toEqual(expect.objectContaining({ code: 'Closed', retry: 'safe' }));
    expect(settled).toBe(false);
    expect(pool.stats()).toMatchObject({ state: 'closing', inFlight: 1 });
    // The server closes its connections once closeWaitMs has passed: the held call is given up.
    await s.server.close();
    expect(await call).toEqual(expect.objectContaining({ code: 'IO', retry: 'idempotent', message: expect.stringMatching(/lost: closed by peer$/) }));
    await within(closed, 20_000, 'close()');
    expect(pool.stats()).toMatchObject({ state: 'closed', workers: 0, inFlight: 0 });
    expect([counted.runs('forever'), counted.runs('late')]).toEqual([1, 0]);
  });

  it('destroy() ends a close held by a handler that never ends: the caller reads IO, may have run, saying the worker was ended', async () => {
    const { pool, s, counted } = await countedPool();
    const never = gate();
    const call = outcome(counted.call(s.stream, RUN, 'forever', never.msg));
    await waitFor(() => counted.runs('forever') === 1);
    const closed = pool.close();
    await within(pool.destroy(), 20_000, 'destroy()');
    await within(closed, 20_000, 'close()');
    expect(await call).toEqual({ code: 'IO', retry: 'idempotent', message: 'action 1: worker 0 was ended by destroy() while holding this call; the handler may have run' });
  });
});
