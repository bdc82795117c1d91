import { ErrorCode, type RpcError } from '@skein/core';
import { cleanups, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type FailoverPoolOptions } from '../src/index.js';
import { transport } from './harness.js';
import { hungServer, localServer, str, textOf } from './pool-harness.js';

// A server leaving the pool closes its ConnPool, which tells the application's onStateChange
// 'closed' before it fails what waited there unsent: a change the hook makes then (a resync of
// the servers, say) is made inside the one under way. Found by failover-pool-fuzz.test.ts.

const cleanup = cleanups();

/** X hung (its first connect never answered), first in line; Z answers. A stream opened now waits on X to open. */
async function streamWaitingOnX(onClosed: (pool: FailoverPool, z: string) => void, opts: Partial<FailoverPoolOptions> = {}) {
  const x = await hungServer();
  cleanup.push(() => x.close());
  const z = await localServer({ record: () => str('Z') });
  cleanup.push(() => z.server.close());
  const failures: ErrorCode[] = [];
  const pool: FailoverPool = new FailoverPool({
    transport,
    servers: [x.address, z.address],
    strategy: 'leader',
    retries: 0,
    shouldFailover: (err) => void failures.push((err as RpcError).code),
    pool: {
      onStateChange: (state, _previous, address) => {
        if (state === 'closed' && address === x.address && !pool.closed) onClosed(pool, z.address);
      },
    },
    ...opts,
  });
  cleanup.push(() => pool.destroy());
  const result = pool
    .openStream('record', str('opened'))
    .result.then(textOf)
    .catch((e: unknown) => e);
  await waitFor(() => pool.stats().find((s) => s.address === x.address)?.queued === 1 || undefined, { what: "the stream waiting on X's first connect" });
  return { pool, x, z, result, failures };
}

describe('a change an onStateChange makes as a removed server closes', () => {
  it('leaves the stream waiting to open there to the change under way: it opens on a server that stays, its attempt not spent, not Closed', async () => {
    // The hook makes the servers what they are now (Z alone): a change that removes and adds nothing.
    const s = await streamWaitingOnX((pool, z) => void pool.replace([z]));
    void s.pool.remove(s.x.address);
    expect(await within(s.result, 15_000, 'the stream')).toBe('Z');
    expect(s.z.counts.record).toBe(1);
    expect(s.failures).toEqual([]);
  });

  it('as one adding a server back', async () => {
    const s = await streamWaitingOnX((pool, z) => void pool.add(z));
    void s.pool.remove(s.x.address);
    expect(await within(s.result, 15_000, 'the stream')).toBe('Z');
    expect(s.failures).toEqual([]);
  });
});
