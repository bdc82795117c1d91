import { ErrorCode, type RpcError } from '@skein/core';
import { ManualClock, cleanups, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool } from '../src/index.js';
import { PING_ACTION } from '../src/wire/protocol.js';
import { transport } from './harness.js';
import { hungServer } from './pool-harness.js';

// How a pool opens its connections (conn-opener.ts): what becomes of one not proven yet.

const cleanup = cleanups();


describe('a pool closed while a connection waits for its first ping', () => {
  it('ends that connection at once: close() settles, and the waiting call fails Closed, unsent', async () => {
    const hung = await hungServer();
    cleanup.push(() => hung.close());
    // The ping would wait out keepaliveTimeoutMs (ten minutes, on a clock the test never moves).
    const clock = new ManualClock();
    const p = new ConnPool({ transport, address: hung.address, clock, stream: { keepaliveMs: 0, keepaliveTimeoutMs: 600_000 } });
    cleanup.push(() => p.destroy());
    const call = p.call('x').catch((e: unknown) => e as RpcError);
    await waitFor(() => hung.got.some((h) => h.action === PING_ACTION), { what: 'the first ping' });
    expect(p.state).toBe('connecting');
    // The bound is the test's own, a hang guard: the close does not wait on the unanswered ping.
    await within(p.close(), 5000, 'close()');
    expect(await call).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    expect(p.stats()).toMatchObject({ state: 'closed', connections: 0, queued: 0 });
  });
});
