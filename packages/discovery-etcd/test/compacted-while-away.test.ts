import { memoryLogger, startTcpRelay, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar, followClusterDiscovery } from '../src/index.js';
import { callFlood, chatCluster, chatServer, etcdClient, etcdForFile } from './harness.js';

// A cluster fed by discovery whose link to etcd (a TCP relay) is cut while servers join and leave
// on a busy prefix and etcd compacts its history past the watch's revision: the watch cannot
// resume there, and must read the prefix again and pass on the difference. Real etcd, real servers.

const file = etcdForFile();
const { cleanup, client } = file;

describe('a discovery watch whose revision is compacted while it is cut off from etcd', () => {
  it('reads the prefix again: the cluster gets the joins and leaves it missed, once each, no call fails, and a bad key is not said again', async () => {
    const prefix = 'compacted/servers';
    const admin = client();
    const registrar = new EtcdRegistrar({ client: client(), prefix, ttlSeconds: 10 });
    const address: Record<string, string> = {};
    for (const id of ['a', 'b', 'c']) address[id] = await chatServer(id, cleanup);
    const reg = async (id: string) => {
      const r = await registrar.register({ type: 'chat', id, address: address[id]! });
      cleanup.push(() => r.close());
      return r;
    };
    await reg('a');
    const regB = await reg('b');
    // Another tool's key: said once, not again when the view is read again.
    await admin.put(`${prefix}/chat/broken`).value('{not json');

    const relay = await startTcpRelay(file.etcd.members[0]!.clientUrl);
    cleanup.push(() => relay.close());
    const relayed = etcdClient(`http://${relay.address}`);
    cleanup.push(() => relayed.close());
    const logger = memoryLogger();
    const { rpc, events } = chatCluster(cleanup);
    const watch = followClusterDiscovery(rpc.$cluster, new EtcdDiscovery({ client: relayed, prefix, logger, backoff: { initialMs: 50, maxMs: 500 } }), { types: ['chat'] });
    cleanup.push(() => watch.close());
    await watch.ready({ timeoutMs: 20_000 });
    const members = () => rpc.$cluster.members('chat').map((m) => m.id).sort();
    expect(members()).toEqual(['a', 'b']);
    const flood = callFlood(() => rpc.chat.Chat.whoami());
    await waitFor(() => flood.calls >= 100 || flood.failed.length > 0, { what: 'calls before the cut' });

    relay.refuse();
    relay.cut();
    await waitFor(() => watch.status().state === 'stale', { what: 'the watch stale' });
    // Busy meanwhile: a join, a leave, many writes of another type, all compacted away.
    await reg('c');
    await regB.close();
    for (let i = 0; i < 200; i++) await admin.put(`${prefix}/other/noise`).value(JSON.stringify({ address: `127.0.0.1:${1000 + i}` }));
    const { header } = await admin.put(`${prefix}-elsewhere/marker`).value('x').exec();
    await admin.kv.compact({ revision: header.revision, physical: true });
    relay.accept();

    await waitFor(() => watch.status().state === 'live' && members().join() === 'a,c', { timeoutMs: 30_000, what: 'the cluster equal to etcd' });
    const before = flood.calls;
    await waitFor(() => flood.calls >= before + 100 || flood.failed.length > 0, { what: 'calls after' });
    await flood.stop();

    expect(flood.failed).toEqual([]);
    expect(events).toEqual(['add chat/a', 'add chat/b', 'add chat/c', 'remove chat/b']);
    // It did read the prefix again (its revision was compacted), and said the bad key once in all.
    expect(logger.lines.some((l) => /compacted/.test(String(l.obj.reason ?? l.msg)))).toBe(true);
    expect(logger.lines.filter((l) => l.obj.key === `${prefix}/chat/broken`)).toHaveLength(1);
  }, 90_000);
});
