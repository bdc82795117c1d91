import { memoryLogger, sleep, waitFor } from '@skein/test-utils';
import type { Etcd3 } from 'etcd3';
import { describe, it } from 'vitest';
import { EtcdDiscovery } from '../src/index.js';
import { etcdForFile, rawKey } from './harness.js';

// Keys under the prefix that are not UTF-8 (anyone may write under it): no entry, and they must
// not make a healthy watch on a healthy etcd go stale. Their text (each bad byte read as U+FFFD)
// is not their bytes, so a key kept by its text is read back as another key, and two of them are
// one. A real etcd of one member, nothing stalled.

const file = etcdForFile();
/** What a test opens, closed when it ends: the tests run at once (each waits several checks, on a prefix of its own). */
type Own = ReturnType<typeof file.forTest>;

/** The watches' check period: shorter than the default 3 s, so that several checks pass in a few seconds. */
const CHECK_MS = 300;

function follow(own: Own, c: Etcd3, prefix: string) {
  const logger = memoryLogger();
  const ids = new Set<string>();
  const watch = new EtcdDiscovery({ client: c, prefix, logger, backoff: { initialMs: 10, maxMs: 100 }, checkEveryMs: CHECK_MS }).watch((e) => void (e.kind === 'leave' ? ids.delete(e.entry.id) : ids.add(e.entry.id)));
  own.cleanup.push(() => watch.close());
  const stale = () => logger.lines.filter((l) => l.level === 'warn' && /is stale/.test(l.msg ?? '')).map((l) => String(l.obj.reason));
  return { watch, ids, stale };
}

/** Waits a few checks of the live watch (see WatchCheck: behind after two): long enough that a watch taken for behind is seen so. */
const severalChecks = () => sleep(6 * CHECK_MS + 1000);

describe.concurrent('a watch with keys that are not UTF-8 under its prefix', () => {
  it('stays live when such a key is the one written last (the witness of its history read back as written)', async (t) => {
    const { expect } = t;
    const own = file.forTest(t);
    const prefix = 'binary-last/servers';
    const admin = own.client();
    await admin.put(`${prefix}/chat/a`).value(JSON.stringify({ address: '127.0.0.1:4000' }));
    await admin.put(rawKey(prefix, 0xff)).value('x');
    const { watch, ids, stale } = follow(own, own.client(), prefix);
    await watch.ready({ timeoutMs: 20_000 });
    // Before: the watch read back the key written last by its text, found nothing, took etcd for
    // another history, read the view again, and again: live and stale in turn, for good.
    await severalChecks();
    expect(stale()).toEqual([]);
    expect(watch.status().state).toBe('live');
    // And it follows: a change after them is delivered.
    await admin.put(`${prefix}/chat/b`).value(JSON.stringify({ address: '127.0.0.1:4001' }));
    await waitFor(() => ids.has('b'), { what: 'the change delivered' });
    expect([...ids].sort()).toEqual(['a', 'b']);
  }, 60_000);

  it('stays live with two such keys of the same text (each counted): not taken for behind every few seconds', async (t) => {
    const { expect } = t;
    const own = file.forTest(t);
    const prefix = 'binary-two/servers';
    const admin = own.client();
    await admin.put(rawKey(prefix, 0xfe)).value('x');
    await admin.put(rawKey(prefix, 0xff)).value('x');
    // The last written is an entry: the history's witness is a readable key.
    await admin.put(`${prefix}/chat/a`).value(JSON.stringify({ address: '127.0.0.1:4000' }));
    const { watch, stale } = follow(own, own.client(), prefix);
    await watch.ready({ timeoutMs: 20_000 });
    await waitFor(() => watch.status().state === 'live', { what: 'the watch live' });
    // Before: etcd counted 3 keys, the watch 2, and the check said behind every other check: a
    // resume every other check (~6 s at the default 3 s) on an etcd where nothing happens.
    await severalChecks();
    expect(stale()).toEqual([]);
    expect(watch.status().state).toBe('live');
  }, 60_000);

  it('stays live after such a key is deleted and written again through the watch', async (t) => {
    const { expect } = t;
    const own = file.forTest(t);
    const prefix = 'binary-churn/servers';
    const admin = own.client();
    await admin.put(`${prefix}/chat/a`).value(JSON.stringify({ address: '127.0.0.1:4000' }));
    const { watch, ids, stale } = follow(own, own.client(), prefix);
    await watch.ready({ timeoutMs: 20_000 });
    await admin.put(rawKey(prefix, 0xfe)).value('x');
    await admin.put(rawKey(prefix, 0xff)).value('x');
    await admin.delete().key(rawKey(prefix, 0xfe));
    await admin.put(rawKey(prefix, 0xfe)).value('y');
    await admin.put(`${prefix}/chat/b`).value(JSON.stringify({ address: '127.0.0.1:4001' }));
    await waitFor(() => ids.has('b'), { what: 'the changes delivered' });
    await severalChecks();
    expect(stale()).toEqual([]);
    expect(watch.status().state).toBe('live');
  }, 60_000);
});
