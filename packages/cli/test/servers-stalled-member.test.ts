import { EtcdRegistrar } from '@skein/discovery-etcd';
import { nodeRuntime } from '@skein/runtime-node';
import { RpcServer, createRouter } from '@skein/stream';
import { cleanups, etcdFollower, portOf, processStopped, startEtcd, waitFor, type EtcdCluster } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skeinWithin } from './skein-bin.js';

// `skein servers --etcd A,B,C` against a three-member etcd with one member stalled (SIGSTOP: its
// kernel still accepts connections, nothing answers on them), as a frozen or cut-off member is.
// The other two are a quorum: the listing must come from them, not time out on the stalled one.

let etcd: EtcdCluster;
const cleanup = cleanups();
beforeAll(async () => {
  etcd = await startEtcd({ members: 3 });
}, 60_000);
afterAll(async () => {
  await etcd?.close();
});

describe('skein servers with one etcd member stalled', () => {
  it('lists every server from the members that answer, within --timeout (exit 0)', async () => {
    // A follower (stalling the leader would add an election to the test).
    const stalled = await etcdFollower(etcd);
    const live = etcd.members.filter((m) => m !== stalled).map((m) => m.clientUrl);
    // The servers' registrar talks to live members only: its leases must outlast the stall.
    const client = new Etcd3({ hosts: live });
    cleanup.push(() => client.close());
    const registrar = new EtcdRegistrar({ client, prefix: 'stalled/servers' });
    const ids: string[] = [];
    // Eight entries: the listing is a read of the keys and one of each value, nine calls, each
    // sent to a member picked at random; one stalled member of two gets some of them.
    for (let i = 0; i < 8; i++) {
      const server = new RpcServer({ dispatch: createRouter({}) });
      const bound = await server.listen(tcpTransport(nodeRuntime), '127.0.0.1:0');
      cleanup.push(() => server.close());
      const reg = await registrar.register({ type: 'chat', id: `chat-${i}`, address: `127.0.0.1:${portOf(bound)}` });
      cleanup.push(() => reg.close());
      ids.push(`chat-${i}`);
    }
    stalled.proc!.kill('SIGSTOP');
    cleanup.push(() => stalled.proc?.kill('SIGCONT'));
    await waitFor(() => processStopped(stalled.proc!.pid), { what: 'the etcd member stopped' });

    const r = await skeinWithin(60_000, 'servers', '--etcd', `${stalled.clientUrl},${live[0]}`, '--prefix', 'stalled/servers', '--json', '--timeout', '20000');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).map((e: { id: string }) => e.id)).toEqual(ids);
  }, 90_000);
});
