import { ErrorCode } from '@skein/core';
import { cleanups, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool } from '../src/index.js';
import { localServer, str } from './pool-harness.js';
import { transport } from './harness.js';

const cleanup = cleanups();

// close() fails the calls still waiting for a connection (ConnPool: Closed, never sent). A
// FailoverPool must not move such a call to another server as its members' pools close: one not
// used yet would get a pool made for it after close() passed it by, never closed, with a
// connection open after close() resolved and the call run there.
describe('FailoverPool.close() with a call waiting for a connection', () => {
  it('fails it Closed, unsent, and moves it nowhere: no connection outlives close()', async () => {
    const a = await localServer({ echo: (req) => req.msg });
    const b = await localServer({ echo: (req) => req.msg });
    cleanup.push(() => a.server.close(), () => b.server.close());
    let fetches = 0;
    const pool = new FailoverPool({
      transport,
      // b while it is offered: the call waits there, and a (before b, never used) is where it would move.
      servers: [a.address, b.address],
      strategy: (_key, servers) => servers.find((s) => s.address === b.address)?.address,
      // b's connect waits for credentials that never come (a token service that hangs); any later one has them.
      pool: { stream: { credentials: () => (++fetches === 1 ? new Promise<string>(() => {}) : 'token') } },
    });
    cleanup.push(() => pool.destroy());
    const call = pool.call('echo', str('hi')).catch((e: unknown) => e);
    await waitFor(() => fetches === 1, { what: "b's connect waiting for its credentials" });

    await within(pool.close(), 10_000, 'the pool to close');
    expect(await call).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    expect(pool.stats().map((s) => [s.state, s.connections])).toEqual([
      ['closed', 0],
      ['closed', 0],
    ]);
    expect(a.accepted).toBe(0);
    expect(a.counts.echo).toBeUndefined();
  });
});
