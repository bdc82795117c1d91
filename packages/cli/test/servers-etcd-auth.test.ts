import { startEtcd, type EtcdCluster } from '@skein/test-utils';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skein } from './skein-bin.js';

// `skein servers` sends no user (README: etcd with auth, use etcdctl). Against an etcd with auth
// on, the refusal must say so, not call a running etcd out of reach.

let etcd: EtcdCluster;
beforeAll(async () => {
  etcd = await startEtcd();
  const admin = new Etcd3({ hosts: etcd.endpoints });
  try {
    await admin.put('skein/servers/chat/a').value(JSON.stringify({ address: '127.0.0.1:4000' }));
    await admin.user('root').create('rootpw');
    await admin.user('root').addRole('root');
    await admin.auth.authEnable();
  } finally {
    admin.close();
  }
}, 60_000);
afterAll(async () => {
  await etcd?.close();
});

describe('skein servers against an etcd with auth on', () => {
  it('fails with Unauthenticated (exit 1) saying etcd wants a user, not Unreachable', async () => {
    const r = await skein('servers', '--etcd', etcd.endpoints[0]!);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^error: Unauthenticated \\(rpc_unauthenticated\\): etcd at ${etcd.endpoints[0]!.replace(/[.]/g, '\\.')} wants a user to read skein/servers/ \\(its auth is on\\): .*user name is empty\\n$`));
    expect(r.code).toBe(1);
  });
});
