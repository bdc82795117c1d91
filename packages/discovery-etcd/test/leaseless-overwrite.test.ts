import { FailoverPool, followDiscovery } from '@skein/stream';
import { memoryLogger, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar, decodeEntry } from '../src/index.js';
import { etcdForFile, namedServer, textOf, transport } from './harness.js';

const { cleanup, client } = etcdForFile();

describe("a registration's key overwritten without a lease (by hand, or a tool), with a value clients cannot read", () => {
  it('is written back: the server is listed and called again (before the fix: it waited for good, as if a newer registration held the key)', async () => {
    const prefix = 'leaseless/servers';
    const key = `${prefix}/chat/a`;
    const c = client();
    const logger = memoryLogger();
    const s = await namedServer('a');
    cleanup.push(() => s.server.close());
    const reg = await new EtcdRegistrar({ client: c, prefix, logger, backoff: { initialMs: 10, maxMs: 100 } }).register({ type: 'chat', id: 'a', address: s.address });
    cleanup.push(() => reg.close());
    const pool = new FailoverPool({ transport, servers: [] });
    cleanup.push(() => pool.close());
    const watch = followDiscovery(pool, new EtcdDiscovery({ client: client(), prefix }), { type: 'chat', lastLeaveGraceMs: 0 });
    cleanup.push(() => watch.close());
    await watch.ready();
    // What the clients were told, kept: the unreadable entry's leave may last less than a poll
    // (the registration writes it back at once), so it is not looked for in `watch.entries()`.
    const told: string[] = [];
    const observer = new EtcdDiscovery({ client: client(), prefix }).watch((e) => void told.push(`${e.kind} ${e.entry.id}`));
    cleanup.push(() => observer.close());
    await observer.ready();
    const leaseOf = async () => (await c.get(key).exec()).kvs[0]?.lease;
    const first = await leaseOf();

    await c.put(key).value('not json'); // no lease: no registration's write
    await waitFor(() => told.includes('leave a'), { what: 'clients to drop the unreadable entry' });
    // Waited for by what only the write-back makes true: a leased key. The registration's state
    // and the clients' list may still read 'live' and one entry before either has seen the put.
    await waitFor(async () => { const l = await leaseOf(); return l !== undefined && l !== '0'; }, { timeoutMs: 15_000, what: 'the entry written back under a lease' });
    await waitFor(() => reg.status().state === 'live' && watch.entries().length === 1, { timeoutMs: 15_000, what: 'the clients to list it again' });

    const lease = await leaseOf();
    expect(lease).not.toBe('0');
    expect(lease).not.toBe(first); // under a new lease: the old one was given up
    expect(decodeEntry(prefix, key, await c.get(key).string() ?? '')).toMatchObject({ id: 'a', address: s.address });
    expect(textOf(await pool.call('who'))).toBe('a');
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(['the entry was written without a lease: writing it again']);
  }, 30_000);
});
