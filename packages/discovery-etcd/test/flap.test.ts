import { startTcpRelay, waitFor, within } from '@skein/test-utils';
import { FailoverPool, followDiscovery } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar } from '../src/index.js';
import { etcdForFile, etcdHeld, namedServer, transport } from './harness.js';

// A server that leaves and joins again quickly (restarted in a loop, a health check flapping its
// registration): followers must end with the right set, and nothing may be left behind per flap,
// neither in etcd (keepalive streams, watchers, leases) nor in the follower.

const file = etcdForFile();
const { cleanup, client } = file;

const FLAPS = 30;

describe('a server whose registration flaps', () => {
  it('leaves followers with the right set, and etcd with one keepalive stream and one key watcher per live registration', async () => {
    const prefix = 'flap/servers';
    const admin = client();
    const [stable, f, g] = [await namedServer('stable'), await namedServer('f'), await namedServer('g')];
    cleanup.push(() => stable.server.close(), () => f.server.close(), () => g.server.close());
    // The follower's link to etcd is cut now and then: some flaps reach it through a resumed watch.
    const relay = await startTcpRelay(file.etcd.endpoints[0]!);
    cleanup.push(() => relay.close());
    const pool = new FailoverPool({ transport, servers: [] });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    const watch = followDiscovery(pool, new EtcdDiscovery({ client: client(`http://${relay.address}`), prefix, backoff: { initialMs: 10, maxMs: 100 } }), { type: 'work' });
    cleanup.push(() => watch.close());
    await watch.ready();
    const member = file.etcd.members[0]!;
    // This file's etcd serves this test alone: once the follower's watch is on it, that is all it holds.
    await waitFor(async () => (await etcdHeld(member, admin)).watchers === 1, { what: "the follower's watch on etcd" });
    const base = await etcdHeld(member, admin);
    /** Whether etcd holds `n` registrations' worth more than before any: a keepalive stream, a watcher of its key, a lease each. */
    const holds = async (n: number): Promise<boolean> => {
      const now = await etcdHeld(member, admin);
      return now.keepalives === base.keepalives + n && now.watchers === base.watchers + n && now.leases === base.leases + n;
    };

    const registrar = new EtcdRegistrar({ client: client(), prefix, ttlSeconds: 5 });
    const held = await registrar.register({ type: 'work', id: 'stable', address: stable.address });
    cleanup.push(() => held.close());
    let last;
    for (let i = 0; i < FLAPS; i++) {
      // Back under another address every third time, with another weight every other time; its
      // meta says which flap wrote it (flap 23 writes the address and weight the last one does).
      const reg = await registrar.register({ type: 'work', id: 'f', address: i % 3 === 2 ? g.address : f.address, weight: 1 + (i % 2), meta: { flap: String(i) } });
      if (i % 7 === 3) relay.cut();
      if (i === FLAPS - 1) last = reg;
      else await reg.close();
    }
    cleanup.push(() => last!.close());

    const want = [stable.address, last!.entry.address].sort();
    // Waited for by what only the last flap's write makes true: a watch still behind, live, can
    // already show the same two addresses, written by an earlier flap (26's, of another weight).
    await waitFor(() => watch.entries().find((e) => e.id === 'f')?.meta.flap === String(FLAPS - 1), { what: "the follower to see the last flap's write" });
    await waitFor(() => watch.status().state === 'live' && JSON.stringify(pool.servers().map((s) => s.address).sort()) === JSON.stringify(want), { what: 'the pool to hold the live registrations' });
    expect(pool.servers().find((s) => s.address === last!.entry.address)?.weight).toBe(last!.entry.weight);
    expect(watch.entries().map((e) => e.id).sort()).toEqual(['f', 'stable']);
    await waitFor(() => holds(2), { what: 'etcd to hold what the two live registrations hold, nothing of the flaps' });

    await last!.close();
    await held.close();
    await waitFor(() => holds(0), { what: 'etcd to hold nothing of the closed registrations' });
  }, 60_000);
});
