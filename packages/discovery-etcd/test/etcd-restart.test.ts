import { memoryLogger, sleep, waitFor, within } from '@skein/test-utils';
import { FailoverPool, followDiscovery } from '@skein/stream';
import { mkdirSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar, readEntries } from '../src/index.js';
import { callFlood, etcdForFile, followingPool, namedServer, registeredServers, textOf, transport } from './harness.js';

const file = etcdForFile();
const { cleanup, client } = file;

describe('etcd restarted under load', () => {
  it('fails no call while etcd is killed and started again; the watch goes stale, keeps its servers, and resumes', async () => {
    const prefix = 'restart/servers';
    const registrar = new EtcdRegistrar({ client: client(), prefix, ttlSeconds: 10 });
    const names = ['a', 'b', 'c'];
    await registeredServers(registrar, 'work', names, cleanup);
    const logger = memoryLogger();
    const events: string[] = [];
    const pool = new FailoverPool({ transport, servers: [], onMembershipChange: (e) => void events.push(e.type) });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    const watch = followDiscovery(pool, new EtcdDiscovery({ client: client(), prefix, logger, backoff: { initialMs: 50, maxMs: 500 } }), { type: 'work' });
    cleanup.push(() => watch.close());
    await watch.ready();

    const by: Record<string, number> = {};
    const failed: string[] = [];
    let flooding = true;
    const worker = async (): Promise<void> => {
      while (flooding) {
        try {
          const name = textOf(await pool.call('who', undefined, { timeoutMs: 5000 }));
          by[name] = (by[name] ?? 0) + 1;
        } catch (err) {
          failed.push((err as Error).message);
          await sleep(10); // a call that fails at once must not starve the event loop
        }
      }
    };
    const flood = Promise.all(Array.from({ length: 8 }, worker));
    const total = (): number => Object.values(by).reduce((a, b) => a + b, 0);
    const after = async (n: number, what: string): Promise<void> => {
      const from = total();
      await waitFor(() => total() >= from + n || failed.length > 0, { what });
    };

    await after(300, 'calls before the restart');
    await file.etcd.members[0]!.stop('SIGKILL');
    await waitFor(() => watch.status().state === 'stale' || failed.length > 0, { what: 'the watch to go stale' });
    await after(300, 'calls while etcd is down');
    expect(pool.servers()).toHaveLength(3);
    await file.etcd.members[0]!.start();
    await waitFor(() => watch.status().state === 'live' || failed.length > 0, { timeoutMs: 20_000, what: 'the watch live again' });
    await after(300, 'calls after the restart');
    flooding = false;
    await within(flood, 10_000, 'the flood');

    expect(failed).toEqual([]);
    expect(Object.keys(by).sort()).toEqual(names);
    expect(events).toEqual(['add', 'add', 'add']); // nobody left or joined twice
    expect(logger.lines.filter((l) => l.level !== 'debug').map((l) => l.msg)).toEqual([
      'etcd discovery is stale: keeping the last known 3 server(s)',
      'etcd discovery is live again',
    ]);
  }, 60_000);

  it('started again on an empty data dir: the entries written again are followed, one withdrawn meanwhile leaves, the pool never empties and no call fails', async () => {
    const prefix = 'fresh/servers';
    // A TTL the outage stays well within: the registrations learn the loss from etcd's answer
    // (their lease unknown to the new store), not from having gone twice the TTL unrenewed.
    const registrar = new EtcdRegistrar({ client: client(), prefix, ttlSeconds: 30, backoff: { initialMs: 50, maxMs: 500 } });
    const names = ['a', 'b', 'c'];
    const servers = await registeredServers(registrar, 'work', names, cleanup);
    const gone = await namedServer('gone');
    cleanup.push(() => gone.server.close());
    const goneReg = await registrar.register({ type: 'work', id: 'gone', address: gone.address });
    const { pool, watch, sizes } = followingPool(client(), prefix, 'work', cleanup);
    await watch.ready();
    expect(pool.servers()).toHaveLength(4);
    // History the new store will not reach in the seconds this takes: the watch's revision is then
    // in the new store's future, which is how it learns that the history is another one.
    const writer = client();
    for (let i = 0; i < 100; i++) await writer.put('fresh-other/history').value(String(i));
    const flood = callFlood(() => pool.call('who', undefined, { timeoutMs: 5000 }).then(textOf));

    const member = file.etcd.members[0]!;
    await member.stop('SIGKILL');
    // Withdrawn while etcd is down (its server stays up): the revoke fails, and the new store never has the entry.
    await within(goneReg.close(), 40_000, 'the withdrawal');
    rmSync(member.dataDir, { recursive: true, force: true });
    mkdirSync(member.dataDir, { mode: 0o700 });
    await member.start();
    const reader = client();
    const written = async (): Promise<boolean> => (await readEntries({ client: reader, prefix }).catch(() => ({ entries: [] }))).entries.length === names.length;
    await waitFor(written, { timeoutMs: 30_000, what: 'every entry written again in the new store' });
    await waitFor(() => watch.status().state === 'live' && pool.servers().length === names.length, { timeoutMs: 20_000, what: 'the pool equal to the new store' });
    const before = flood.calls;
    await waitFor(() => flood.calls >= before + 100 || flood.failed.length > 0, { what: 'calls after the restart' });
    await flood.stop();

    expect(pool.servers().map((s) => s.address).sort()).toEqual(servers.map((s) => s.address).sort());
    expect(Math.min(...sizes)).toBeGreaterThan(0);
    expect(flood.failed).toEqual([]);
  }, 90_000);
});
