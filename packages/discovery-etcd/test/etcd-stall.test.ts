import { freePort, waitFor, within } from '@skein/test-utils';
import { ErrorCode } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar } from '../src/index.js';
import { callFlood, etcdClient, etcdForFile, followingPool, registeredServers, stallEtcd, textOf } from './harness.js';

const file = etcdForFile();
const { cleanup, client } = file;

describe('etcd stalled for longer than the lease TTL', () => {
  it('never empties a pool following discovery while every lease expires at once and is written again', async () => {
    const prefix = 'stall/servers';
    const registrar = new EtcdRegistrar({ client: client(), prefix, ttlSeconds: 2, backoff: { initialMs: 10, maxMs: 200 } });
    const names = ['a', 'b', 'c'];
    await registeredServers(registrar, 'work', names, cleanup);
    // The pool's size after every membership change: the property is that it never reaches 0.
    const { pool, discovery, watch, sizes } = followingPool(client(), prefix, 'work', cleanup);
    // A second watch says what discovery passed on: that the leases did expire and came back.
    const seen: string[] = [];
    const observer = discovery.watch((e) => void seen.push(`${e.kind} ${e.entry.id}`));
    cleanup.push(() => observer.close());
    await Promise.all([watch.ready(), observer.ready()]);
    expect(pool.servers()).toHaveLength(3);

    const flood = callFlood(() => pool.call('who', undefined, { timeoutMs: 5000 }).then(textOf));
    await stallEtcd(file.etcd.members[0]!, 3500, cleanup);

    const count = (kind: string): number => seen.filter((s) => s.startsWith(kind)).length;
    await waitFor(() => count('leave') >= 3 && count('join') >= 6, { timeoutMs: 20_000, what: 'every entry to leave and join again' });
    await waitFor(() => pool.servers().length === 3, { what: 'the pool whole again' });
    const before = flood.calls;
    await waitFor(() => flood.calls >= before + 100 || flood.failed.length > 0, { what: 'calls after the stall' });
    await flood.stop();

    expect(Math.min(...sizes)).toBeGreaterThan(0);
    expect(flood.failed).toEqual([]);
  }, 60_000);

  it('bounds ready() with etcd out of reach at start-up: Timeout naming the stale watch, which then goes on', async () => {
    const nobody = etcdClient(`http://127.0.0.1:${await freePort()}`);
    cleanup.push(() => nobody.close());
    const watch = new EtcdDiscovery({ client: nobody, prefix: 'stall/none', backoff: { initialMs: 50, maxMs: 200 } }).watch(() => {});
    cleanup.push(() => watch.close());
    const err = await within(watch.ready({ timeoutMs: 3000 }).then(() => undefined, (e: unknown) => e), 20_000, 'ready() to settle');
    expect(err).toMatchObject({ code: ErrorCode.Timeout });
    expect((err as Error).message).toMatch(/^discovery not ready after 3000 ms; the watch is stale: /);
    expect(watch.status().state).toBe('stale');
  }, 30_000);
});
