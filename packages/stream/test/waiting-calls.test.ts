import { ErrorCode, type RpcError } from '@skein/core';
import { ManualClock, cleanups, freePort, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool } from '../src/index.js';
import { transport } from './harness.js';

// Calls waiting in a pool for a connection (waiting-calls.ts): what a call made in an outage meets.

const cleanup = cleanups();

describe('a failFast call made while the server cannot be reached', () => {
  it('fails at once with Unreachable, on its own: no tick, no reconnect, comes between', async () => {
    // The pool's clock never moves: the tick that fails waiting calls never comes, nor does the
    // backoff's reconnect. A plain call waits (its budget is not spent); a failFast one must not.
    const clock = new ManualClock();
    const p = new ConnPool({ transport, address: `127.0.0.1:${await freePort()}`, clock, connectBudgetMs: 60_000 });
    cleanup.push(() => p.destroy());
    const plain = p.call('x').catch((e: unknown) => e as RpcError);
    await waitFor(() => p.state === 'backoff', { what: 'the first connect to fail' });
    // The bound is the test's own, a hang guard.
    const err = await within(p.call('x', undefined, { failFast: true }).catch((e: unknown) => e as RpcError), 5000, 'the failFast call');
    expect(err).toMatchObject({ code: ErrorCode.Unreachable, retry: 'safe' });
    expect(p.stats().queued).toBe(1); // the plain call still waits
    p.destroy();
    expect(await plain).toMatchObject({ code: ErrorCode.Closed });
  });
});
