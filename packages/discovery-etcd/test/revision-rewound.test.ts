import { memoryLogger, startTcpRelay, waitFor } from '@skein/test-utils';
import type { Etcd3 } from 'etcd3';
import { rmSync, mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, encodeValue, keyOf } from '../src/index.js';
import type { DiscoveryEvent } from '@skein/stream';
import { etcdForFile } from './harness.js';

// An operator restores etcd from an older snapshot, or loses its data and starts it empty: the
// store's revision goes back. A discovery watch that resumes "from the revision after the last
// change applied" then asks for a revision in the future: etcd accepts the watch and sends
// nothing until its revision catches up, and the check that it still has the revision fails
// ("required revision is a future revision"). Before the fix that failure only retried the same
// resume, for good: the watch stayed stale and servers registered since were never seen.
// Such a store is a different history: the view must be read again whole, as after a compaction.

const file = etcdForFile();
const { cleanup, client } = file;

describe('a discovery watch whose etcd came back with an earlier revision (data lost or restored)', () => {
  it('reads the view again and follows the new history: live, the new entries seen, the lost ones gone', async () => {
    const prefix = 'rewound/servers';
    const etcd = client();
    // The watch reaches etcd through a relay that keeps it away until the new store has `new`:
    // back on its own, it could read the new store before the test wrote to it.
    const relay = await startTcpRelay(file.etcd.endpoints[0]!);
    cleanup.push(() => relay.close());
    const log: string[] = [];
    const logger = memoryLogger();
    const watch = new EtcdDiscovery({ client: client(`http://${relay.address}`), prefix, logger, backoff: { initialMs: 50, maxMs: 500 } }).watch((e: DiscoveryEvent) =>
      void log.push(`${e.kind === 'replace' ? 'replace' : e.kind} ${e.entry.id}`),
    );
    cleanup.push(() => watch.close());
    await watch.ready(); // read before the history is written: each write of it one event
    // A history of changes the watch applied: the new store will not reach this revision by itself.
    for (let i = 0; i < 30; i++) await etcd.put(`${prefix}/chat/old`).value(encodeValue({ type: 'chat', id: 'old', address: '127.0.0.1:1001', weight: 1 + (i % 2), meta: {} }));
    await waitFor(() => log.length === 30 && watch.status().state === 'live', { what: 'the history applied' });
    log.splice(0);

    relay.refuse();
    relay.cut();
    await waitFor(() => watch.status().state === 'stale', { what: 'the watch to notice the outage' });
    const member = file.etcd.members[0]!;
    await member.stop('SIGKILL');
    rmSync(member.dataDir, { recursive: true, force: true });
    mkdirSync(member.dataDir, { mode: 0o700 });
    await member.start();
    await etcd.put(`${prefix}/chat/new`).value(encodeValue({ type: 'chat', id: 'new', address: '127.0.0.1:1002', weight: 1, meta: {} }));
    relay.accept();

    await waitFor(() => watch.status().state === 'live', { timeoutMs: 20_000, what: 'the watch live again on the new store' });
    await waitFor(() => log.includes('join new'), { timeoutMs: 10_000, what: 'the entry written after the restore' });
    expect(log).toEqual(['join new', 'leave old']);
    // And it goes on following: a later change arrives through the watch.
    await etcd.delete().key(`${prefix}/chat/new`);
    await waitFor(() => log.length === 3, { what: 'the delete after the restore' });
    expect(log[2]).toBe('leave new');
  }, 60_000);

  it('reads the view again when the new store is already past that revision (written to before the watch came back): nothing missed', async () => {
    const prefix = 'rewound2/servers';
    const etcd = client();
    const entry = (id: string, port: number): [string, string] => {
      const e = { type: 'chat', id, address: `127.0.0.1:${port}`, weight: 1, meta: {} };
      return [keyOf(prefix, e), encodeValue(e)];
    };
    const put = (id: string, port: number) => etcd.put(entry(id, port)[0]).value(entry(id, port)[1]);
    await put('old1', 1001);
    await put('old2', 1002);
    // The watch reaches etcd through a relay that can keep it away while the new store is written.
    const relay = await startTcpRelay(file.etcd.endpoints[0]!);
    cleanup.push(() => relay.close());
    const log: string[] = [];
    const watch = new EtcdDiscovery({ client: client(`http://${relay.address}`), prefix, backoff: { initialMs: 50, maxMs: 500 } }).watch((e: DiscoveryEvent) => void log.push(`${e.kind} ${e.entry.id}`));
    cleanup.push(() => watch.close());
    await watch.ready();
    const { header } = await etcd.put('rewound2-other/marker').value('x').exec();
    const seen = Number(header.revision);

    relay.refuse();
    relay.cut();
    await waitFor(() => watch.status().state === 'stale', { what: 'the watch to notice the outage' });
    const member = file.etcd.members[0]!;
    await member.stop('SIGKILL');
    rmSync(member.dataDir, { recursive: true, force: true });
    mkdirSync(member.dataDir, { mode: 0o700 });
    await member.start();
    // The new history: an entry the old one never had, then writes elsewhere until it is past
    // the revision the watch would resume from. A resume would miss that entry and old1 and old2
    // being gone, for good: etcd accepts the watch and has that revision.
    await put('new', 1003);
    for (let rev = 0; rev <= seen + 2; ) rev = Number((await etcd.put('rewound2-other/filler').value(String(rev)).exec()).header.revision);
    relay.accept();

    await waitFor(() => watch.status().state === 'live', { timeoutMs: 20_000, what: 'the watch live again' });
    await waitFor(() => watch.entries().length === 1 && watch.entries()[0]!.id === 'new', { timeoutMs: 10_000, what: 'the view of the new store' });
    expect(log).toEqual(['join old1', 'join old2', 'join new', 'leave old1', 'leave old2']);
    await put('later', 1004);
    await waitFor(() => log.length === 6, { what: 'a change after it' });
    expect(log[5]).toBe('join later');
  }, 60_000);

  it('reads the view again when the new history wrote the same keys at the same revisions (the writes replayed, under new leases)', async () => {
    const prefix = 'replayed/servers';
    const member = file.etcd.members[0]!;
    const wipe = async (): Promise<void> => {
      await member.stop('SIGKILL');
      rmSync(member.dataDir, { recursive: true, force: true });
      mkdirSync(member.dataDir, { mode: 0o700 });
      await member.start();
    };
    const entry = (id: string, port: number) => ({ type: 'chat', id, address: `127.0.0.1:${port}`, weight: 1, meta: {} });
    // `a` under a lease, as a registration writes it, then `m` without one (by hand), written last:
    // each write one revision, the same ones in either history (a grant moves no revision).
    const writeAll = async (etcd: Etcd3, portOfA: number): Promise<string> => {
      const lease = etcd.lease(60, { autoKeepAlive: false });
      await lease.put(keyOf(prefix, entry('a', portOfA))).value(encodeValue(entry('a', portOfA)));
      const { header } = await etcd.put(keyOf(prefix, entry('m', 1009))).value(encodeValue(entry('m', 1009))).exec();
      return header.revision;
    };
    await wipe(); // a history that starts here, for revisions the next one can match
    const etcd = client();
    const written = await writeAll(etcd, 1001);
    const relay = await startTcpRelay(file.etcd.endpoints[0]!);
    cleanup.push(() => relay.close());
    const log: string[] = [];
    const watch = new EtcdDiscovery({ client: client(`http://${relay.address}`), prefix, backoff: { initialMs: 50, maxMs: 500 } }).watch((e: DiscoveryEvent) =>
      void log.push(`${e.kind} ${e.entry.id} ${e.entry.address}`),
    );
    cleanup.push(() => watch.close());
    await watch.ready();

    relay.refuse();
    relay.cut();
    await waitFor(() => watch.status().state === 'stale', { what: 'the watch to notice the outage' });
    await wipe();
    // The same keys in the same order at the same revisions: `m` as before, but `a` moved (its
    // server came back on another port) under a lease of the new etcd's. Read at the revision
    // the watch applied, `m` is as it was: only `a`'s lease tells the histories apart.
    const fresh = client();
    expect(await writeAll(fresh, 2001)).toBe(written);
    relay.accept();

    await waitFor(() => watch.entries().find((e) => e.id === 'a')?.address === '127.0.0.1:2001', { timeoutMs: 20_000, what: "the new history's a" });
    expect(log).toEqual(['join a 127.0.0.1:1001', 'join m 127.0.0.1:1009', 'replace a 127.0.0.1:2001']);
    await waitFor(() => watch.status().state === 'live', { what: 'the watch live again' });
  }, 60_000);
});
