import { memoryLogger, startTcpRelay, waitFor } from '@skein/test-utils';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar } from '../src/index.js';
import { etcdForFile } from './harness.js';

// This file's etcd runs with auth on: a role that may write its entry but no longer read it is
// how a guard's watch gets canceled (on its next create) and its key becomes unreadable.
const file = etcdForFile();
const { cleanup } = file;

const prefix = 'guarded/servers';

interface Auth {
  admin: Etcd3;
  /** A client of `user`, which may read and write under the prefix until told otherwise. */
  as(user: string, hosts: string): Promise<Etcd3>;
  /** Takes read from `user`'s role, or gives it back; write stays. */
  mayRead(user: string, read: boolean): Promise<void>;
}

let auth: Promise<Auth> | undefined;

/** Turns auth on once for this file's etcd, with `root`; each user gets a role of its own name. */
function withAuth(): Promise<Auth> {
  auth ??= (async () => {
    const plain = new Etcd3({ hosts: file.etcd.endpoints });
    await plain.user('root').create('rootpw');
    await plain.user('root').addRole('root');
    await plain.auth.authEnable();
    plain.close();
    const admin = new Etcd3({ hosts: file.etcd.endpoints, auth: { username: 'root', password: 'rootpw' } });
    afterAll(() => admin.close());
    const range = () => admin.range({ prefix: `${prefix}/` });
    return {
      admin,
      async as(user, hosts) {
        await (await admin.role(user).create()).grant({ permission: 'Readwrite', range: range() });
        await admin.user(user).create(`${user}pw`);
        await admin.user(user).addRole(user);
        const c = new Etcd3({ hosts, auth: { username: user, password: `${user}pw` }, dialTimeout: 2000 });
        cleanup.push(() => c.close());
        return c;
      },
      async mayRead(user, read) {
        if (read) return void (await admin.role(user).grant({ permission: 'Readwrite', range: range() }));
        await admin.role(user).revoke({ permission: 'Readwrite', range: range() });
        await admin.role(user).grant({ permission: 'Write', range: range() });
      },
    };
  })();
  return auth;
}

/**
 * Waits until etcd has renewed `lease` `n` times: its remaining TTL, in whole seconds, went back
 * up. (With a TTL of 6 s, kept alive every 2 s, the remaining time reads 5, then 4, then 5.)
 */
async function renewals(admin: Etcd3, lease: string, n: number): Promise<void> {
  let seen = 0;
  let last = Infinity;
  await waitFor(
    async () => {
      const ttl = Number((await admin.leaseClient.leaseTimeToLive({ ID: lease })).TTL);
      if (ttl > last) seen++;
      last = ttl;
      return seen >= n;
    },
    { timeoutMs: 20_000, what: `${n} keepalives` },
  );
}

describe("a registration's key guard whose watch etcd canceled", () => {
  it('says the registration is stale while it cannot read its key, and live again once it can (before the fix: live, unwatched, for good)', async () => {
    const { admin, as, mayRead } = await withAuth();
    const relay = await startTcpRelay(file.etcd.endpoints[0]!);
    cleanup.push(() => relay.close());
    const logger = memoryLogger();
    const reg = await new EtcdRegistrar({ client: await as('server', `http://${relay.address}`), prefix, logger, ttlSeconds: 6, backoff: { initialMs: 10, maxMs: 100 } }).register({ type: 'chat', id: 'a', address: '127.0.0.1:1' });
    cleanup.push(() => reg.close());
    expect(reg.status().state).toBe('live');

    // The role keeps its write (the lease and entry stay) but loses its read; the watch it has
    // goes on until its stream breaks, then etcd refuses it again (canceled: permission denied).
    await mayRead('server', false);
    relay.cut();

    // (The cut also fails a keepalive: stale for that first, then for its key once etcd answers.)
    const blind = () => /^cannot watch its key: .*permission denied/.test((reg.status() as { reason?: string }).reason ?? '');
    await waitFor(blind, { timeoutMs: 20_000, what: 'the registration to say it cannot vouch for its key' });
    // Keepalives go on succeeding: they must not call it live while its key is unseen.
    const lease = (await admin.get(`${prefix}/chat/a`).exec()).kvs[0]!.lease;
    await renewals(admin, lease, 2);
    expect(blind()).toBe(true);

    await mayRead('server', true);
    await waitFor(() => reg.status().state === 'live', { timeoutMs: 20_000, what: 'the guard to see its key again' });
    expect((await admin.get(`${prefix}/chat/a`).exec()).kvs[0]!.lease).toBe(lease); // the same entry, never rewritten
    expect(logger.lines.filter((l) => l.level !== 'debug').map((l) => l.msg)).toEqual([
      'registration cannot watch its key: stale until it can',
      'registration watches its key again',
    ]);

    // And it guards again: a newer registration taking the key is seen.
    const newer = await new EtcdRegistrar({ client: admin, prefix }).register({ type: 'chat', id: 'a', address: '127.0.0.1:2' });
    cleanup.push(() => newer.close());
    await waitFor(() => reg.status().state === 'stale' && /took the entry/.test((reg.status() as { reason?: string }).reason ?? ''), { what: 'the guard to see the key taken' });
  }, 60_000);
});

describe('a discovery watch etcd refused once', () => {
  it('watches again once it may (before the fix: its next watch never attached, later changes never arrived)', async () => {
    const { admin, as, mayRead } = await withAuth();
    const relay = await startTcpRelay(file.etcd.endpoints[0]!);
    cleanup.push(() => relay.close());
    const put = (id: string, port: number) => admin.put(`${prefix}/web/${id}`).value(JSON.stringify({ address: `127.0.0.1:${port}` }));
    await put('w1', 1);
    const watch = new EtcdDiscovery({ client: await as('client', `http://${relay.address}`), prefix, backoff: { initialMs: 10, maxMs: 100 } }).watch(() => undefined);
    cleanup.push(() => watch.close());
    await watch.ready();

    await mayRead('client', false);
    relay.cut(); // its watch resumes, and etcd refuses it: canceled as it is created
    await waitFor(() => watch.status().state === 'stale', { what: 'the watch to go stale' });
    await put('w2', 2);
    await mayRead('client', true);
    await waitFor(() => watch.status().state === 'live', { timeoutMs: 20_000, what: 'the watch live again' });
    await put('w3', 3);
    await waitFor(() => watch.entries().length === 3, { what: 'every entry, the one written while refused and one after' });
    expect(watch.entries().map((e) => e.id).sort()).toEqual(['w1', 'w2', 'w3']);
  }, 60_000);
});

describe('streams of a client with a user (auth on), steered by StreamRoute', () => {
  it("carry the user's token: a discovery watch delivers, a lease's keepalives renew it", async () => {
    const { admin, as } = await withAuth();
    const user = await as('streams', file.etcd.endpoints[0]!);
    const ids = new Set<string>();
    const watch = new EtcdDiscovery({ client: user, prefix, backoff: { initialMs: 10, maxMs: 100 } }).watch((e) => void (e.kind === 'leave' ? ids.delete(e.entry.id) : ids.add(e.entry.id)));
    cleanup.push(() => watch.close());
    await watch.ready();
    const reg = await new EtcdRegistrar({ client: user, prefix, ttlSeconds: 6 }).register({ type: 'route', id: 'r1', address: '127.0.0.1:3' });
    cleanup.push(() => reg.close());
    // Delivered by the watch (opened through the route), not read: it was written after the view.
    await waitFor(() => ids.has('r1'), { what: 'the entry delivered by the watch' });
    const lease = (await admin.get(`${prefix}/route/r1`).exec()).kvs[0]!.lease;
    await renewals(admin, lease, 2);
    expect(watch.status().state).toBe('live');
    expect(reg.status().state).toBe('live');
  }, 60_000);
});
