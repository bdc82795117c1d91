import { freePort, processStopped, sleep, waitFor, within } from '@skein/test-utils';
import { ErrorCode } from '@skein/core';
import { FailoverPool, followDiscovery } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar } from '../src/index.js';
import { etcdClient, etcdForFile, registeredServers, textOf, transport } from './harness.js';

const file = etcdForFile();
const { cleanup, client } = file;

describe('etcd stalled for longer than the lease TTL', () => {
  it('never empties a pool following discovery while every lease expires at once and is written again', async () => {
    const prefix = 'stall/servers';
    const registrar = new EtcdRegistrar({ client: client(), prefix, ttlSeconds: 2, retry: { initialMs: 10, maxMs: 200 } });
    const names = ['a', 'b', 'c'];
    await registeredServers(registrar, 'work', names, cleanup);
    // The pool's size after every membership change: the property is that it never reaches 0.
    const sizes: number[] = [];
    const pool: FailoverPool = new FailoverPool({ transport, servers: [], onMembershipChange: () => void sizes.push(pool.servers().length) });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    const discovery = new EtcdDiscovery({ client: client(), prefix, retry: { initialMs: 50, maxMs: 500 } });
    const watch = followDiscovery(pool, discovery, { type: 'work' });
    cleanup.push(() => watch.close());
    // A second watch says what discovery passed on: that the leases did expire and came back.
    const seen: string[] = [];
    const observer = discovery.watch((e) => void seen.push(`${e.kind} ${e.entry.id}`));
    cleanup.push(() => observer.close());
    await Promise.all([watch.ready(), observer.ready()]);
    expect(pool.servers()).toHaveLength(3);

    const failed: string[] = [];
    let calls = 0;
    let flooding = true;
    const worker = async (): Promise<void> => {
      while (flooding) {
        try {
          textOf(await pool.call('who', undefined, { timeoutMs: 5000 }));
          calls++;
        } catch (err) {
          failed.push((err as Error).message);
          await sleep(10); // a call that fails at once must not starve the event loop
        }
      }
    };
    const flood = Promise.all(Array.from({ length: 8 }, worker));

    // Longer than the TTL: etcd expires every lease when it resumes.
    const member = file.etcd.members[0]!;
    member.proc!.kill('SIGSTOP');
    cleanup.push(() => member.proc?.kill('SIGCONT'));
    await waitFor(() => processStopped(member.proc!.pid), { what: 'etcd stopped' });
    await sleep(3500);
    member.proc!.kill('SIGCONT');

    const count = (kind: string): number => seen.filter((s) => s.startsWith(kind)).length;
    await waitFor(() => count('leave') >= 3 && count('join') >= 6, { timeoutMs: 20_000, what: 'every entry to leave and join again' });
    await waitFor(() => pool.servers().length === 3, { what: 'the pool whole again' });
    const before = calls;
    await waitFor(() => calls >= before + 100 || failed.length > 0, { what: 'calls after the stall' });
    flooding = false;
    await within(flood, 10_000, 'the flood');

    expect(Math.min(...sizes)).toBeGreaterThan(0);
    expect(failed).toEqual([]);
  }, 60_000);

  it('bounds ready() with etcd out of reach at start-up: Timeout naming the stale watch, which then goes on', async () => {
    const nobody = etcdClient(`http://127.0.0.1:${await freePort()}`);
    cleanup.push(() => nobody.close());
    const watch = new EtcdDiscovery({ client: nobody, prefix: 'stall/none', retry: { initialMs: 50, maxMs: 200 } }).watch(() => {});
    cleanup.push(() => watch.close());
    const err = await within(watch.ready({ timeoutMs: 3000 }).then(() => undefined, (e: unknown) => e), 20_000, 'ready() to settle');
    expect(err).toMatchObject({ code: ErrorCode.Timeout });
    expect((err as Error).message).toMatch(/^discovery not ready after 3000 ms; the watch is stale: /);
    expect(watch.status().state).toBe('stale');
  }, 30_000);
});
