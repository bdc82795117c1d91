import { waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, followClusterDiscovery, type ClusterMembership } from '../src/index.js';
import { chatCluster, etcdForFile, putEntries } from './harness.js';

const { cleanup, client } = etcdForFile();

// Every lease expiring at once (etcd stalled past the TTL) takes a type's members away in one
// watch response, so in one turn: the work each leave costs must not grow with the type, or the
// whole storm is O(n²) in that turn.
describe('followClusterDiscovery when every member of a type leaves at once', () => {
  it("tells whether each leave takes the type's last member without reading its list per leave", async () => {
    const n = 2000;
    const prefix = 'storm/servers';
    const etcd = client();
    await putEntries(etcd, prefix, 'chat', Array.from({ length: n }, (_, i) => `c${i}`));
    const { rpc } = chatCluster(cleanup);
    const cluster = rpc.$cluster;
    // The members the follower is handed, counted: the work its leaves do, whatever the clock says.
    let listed = 0;
    const membership: ClusterMembership = {
      add: (type, m) => cluster.add(type as 'chat', m),
      update: (type, m) => cluster.update(type as 'chat', m),
      remove: (type, id) => cluster.remove(type as 'chat', id),
      members: (type) => {
        const members = cluster.members(type as 'chat');
        listed += members.length;
        return members;
      },
      count: (type) => cluster.count(type as 'chat'),
    };
    const watch = followClusterDiscovery(membership, new EtcdDiscovery({ client: etcd, prefix }), { lastLeaveGraceMs: 60_000 });
    cleanup.push(() => watch.close());
    await watch.ready();
    await waitFor(() => cluster.count('chat') === n, { what: `${n} members`, timeoutMs: 20_000 });

    await etcd.delete().prefix(`${prefix}/`);
    // The last to leave stays for the grace: the type is not emptied.
    await waitFor(() => cluster.count('chat') === 1, { what: 'every member but the last gone', timeoutMs: 30_000 });
    expect(cluster.members('chat')).toHaveLength(1);
    expect(listed).toBeLessThanOrEqual(2);
  }, 60_000);
});
