import { encodeValue, EtcdRegistrar, keyOf } from '../src/index.js';
import { waitFor } from '@skein/test-utils';
import { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { etcdClient, etcdForFile } from './harness.js';

/*
 * A registration watches its own key (KeyGuard) to learn that it was deleted or taken while its
 * lease lives. When etcd went away and came back, that watch was left to etcd3, which resubscribes
 * it on its own backoff (up to 30 s), while the registration's keepalives came back on its
 * `backoff` and said `live`: for as long as etcd3 waited, a key deleted went unseen and the entry
 * stayed gone. Now the guard reads and watches its key again on the registration's `backoff`.
 * Here etcd3's watch backoff is made longer than the test, so only the guard's own can resume it.
 */

const file = etcdForFile();
const { cleanup } = file;

/** etcd3's resubscription of a broken watch, never within a test: 10 minutes each time. */
const never = { duration: 600_000, next: () => never };

describe("a registration's key guard after an etcd restart", () => {
  it("sees its key deleted after etcd is back, on the registration's backoff, and writes it again", async () => {
    const prefix = 'guard-resume/servers';
    const spec = { type: 'chat', id: 'g1', address: '127.0.0.1:1001' };
    const entry = { ...spec, weight: 1, meta: {} };
    const client = new Etcd3({ hosts: file.etcd.endpoints, dialTimeout: 2000, faultHandling: { watchBackoff: never } });
    cleanup.push(() => client.close());
    const reg = await new EtcdRegistrar({ client, prefix, ttlSeconds: 10, backoff: { initialMs: 20, maxMs: 200 } }).register(spec);
    cleanup.push(() => reg.close());

    const member = file.etcd.members[0]!;
    await member.stop('SIGKILL');
    await member.start(); // on its data dir: the lease lives on
    // A client of the test's own, made after the restart, deletes the key while the lease lives.
    const admin = etcdClient(file.etcd.endpoints);
    cleanup.push(() => admin.close());
    await admin.delete().key(keyOf(prefix, entry));

    // Seen (by the guard's read or its new watch), the key is written again under a new lease.
    await waitFor(async () => (await admin.get(keyOf(prefix, entry)).string()) === encodeValue(entry), { timeoutMs: 20_000, what: 'the entry written again' });
    await waitFor(() => reg.status().state === 'live', { timeoutMs: 10_000, what: 'the registration live again' });
    expect(reg.status().state).toBe('live');
  }, 60_000);
});
