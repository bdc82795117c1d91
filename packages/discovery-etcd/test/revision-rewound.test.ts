import { memoryLogger, waitFor } from '@skein/test-utils';
import { rmSync, mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, encodeValue } from '../src/index.js';
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
    const log: string[] = [];
    const logger = memoryLogger();
    const watch = new EtcdDiscovery({ client: etcd, prefix, logger, backoff: { initialMs: 50, maxMs: 500 } }).watch((e: DiscoveryEvent) =>
      void log.push(`${e.kind === 'replace' ? 'replace' : e.kind} ${e.entry.id}`),
    );
    cleanup.push(() => watch.close());
    // A history of changes the watch applied: the new store will not reach this revision by itself.
    for (let i = 0; i < 30; i++) await etcd.put(`${prefix}/chat/old`).value(encodeValue({ type: 'chat', id: 'old', address: '127.0.0.1:1001', weight: 1 + (i % 2), meta: {} }));
    await waitFor(() => log.length === 30 && watch.status().state === 'live', { what: 'the history applied' });
    log.splice(0);

    const member = file.etcd.members[0]!;
    await member.stop('SIGKILL');
    rmSync(member.dataDir, { recursive: true, force: true });
    mkdirSync(member.dataDir, { mode: 0o700 });
    await member.start();
    await waitFor(() => watch.status().state === 'stale', { what: 'the watch to notice the outage' });
    await etcd.put(`${prefix}/chat/new`).value(encodeValue({ type: 'chat', id: 'new', address: '127.0.0.1:1002', weight: 1, meta: {} }));

    await waitFor(() => watch.status().state === 'live', { timeoutMs: 20_000, what: 'the watch live again on the new store' });
    await waitFor(() => log.includes('join new'), { timeoutMs: 10_000, what: 'the entry written after the restore' });
    expect(log).toEqual(['join new', 'leave old']);
    // And it goes on following: a later change arrives through the watch.
    await etcd.delete().key(`${prefix}/chat/new`);
    await waitFor(() => log.length === 3, { what: 'the delete after the restore' });
    expect(log[2]).toBe('leave new');
  }, 60_000);
});
