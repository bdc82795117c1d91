import { ErrorCode } from '@skein/core';
import type { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { EtcdRegistrar, readEntries } from '../src/index.js';
import { etcdCallsAnswered, etcdForFile, putEntries, registeredServers } from './harness.js';

// readEntries: one read of what EtcdRegistrar wrote, for tools (`skein servers`), against a real etcd.

const file = etcdForFile();
const { cleanup, client } = file;

describe('readEntries', () => {
  it('reads every entry under the prefix as of one revision, by type then id; a type narrows it', async () => {
    const etcd = client();
    const registrar = new EtcdRegistrar({ client: etcd, prefix: 'read1/servers' });
    const [b, a] = await registeredServers(registrar, 'chat', ['b', 'a'], cleanup);
    const [s] = await registeredServers(registrar, 'store', ['s'], cleanup);
    const all = await readEntries({ client: etcd, prefix: 'read1/servers/' });
    expect(all.entries.map((e) => `${e.type}/${e.id} ${e.address}`)).toEqual([`chat/a ${a!.address}`, `chat/b ${b!.address}`, `store/s ${s!.address}`]);
    expect(all.skipped).toEqual([]);
    expect(all.revision).toBeGreaterThan(0);
    // With hosts alone it makes and closes its own client.
    const chat = await readEntries({ hosts: file.etcd.endpoints, prefix: 'read1/servers', type: 'chat' });
    expect(chat.entries.map((e) => e.id)).toEqual(['a', 'b']);
  });

  it('reads the view again when etcd compacts its revision away between the listing and the values', async () => {
    const etcd = client();
    const prefix = 'read-compacted/servers';
    await putEntries(etcd, prefix, 'chat', ['a', 'b', 'c']);
    const listings = compactAfterListing(etcd, prefix, 1);
    const read = await readEntries({ client: etcd, prefix });
    expect(read.entries.map((e) => e.id)).toEqual(['a', 'b', 'c']);
    expect(listings()).toBe(2);
  });

  it('gives up with Unreachable after 3 reads, each compacted away: not one read more', async () => {
    const etcd = client();
    const prefix = 'read-compacted-always/servers';
    await putEntries(etcd, prefix, 'chat', ['a']);
    const listings = compactAfterListing(etcd, prefix, Infinity);
    await expect(readEntries({ client: etcd, prefix, timeoutMs: 30_000 })).rejects.toMatchObject({ code: ErrorCode.Unreachable, message: expect.stringContaining('required revision has been compacted') });
    expect(listings()).toBe(3);
  });

  it('reports keys that are no entry, and reads the entries beside them', async () => {
    const etcd = client();
    const [a] = await registeredServers(new EtcdRegistrar({ client: etcd, prefix: 'read2/servers' }), 'chat', ['a'], cleanup);
    await etcd.put('read2/servers/chat/bad').value('[1]');
    const read = await readEntries({ client: etcd, prefix: 'read2/servers' });
    expect(read.entries.map((e) => e.address)).toEqual([a!.address]);
    expect(read.skipped).toEqual([{ key: 'read2/servers/chat/bad', why: 'value of read2/servers/chat/bad is not a JSON object' }]);
  });

  it('reads with a timeoutMs past what a timer holds (2^31 ms), not timing out at once', async () => {
    const etcd = client();
    const [a] = await registeredServers(new EtcdRegistrar({ client: etcd, prefix: 'read3/servers' }), 'chat', ['a'], cleanup);
    // setTimeout fires at once past 2^31-1 ms: a caller's "wait long" must not become "wait not at all".
    const read = await readEntries({ client: etcd, prefix: 'read3/servers', timeoutMs: 2 ** 31 });
    expect(read.entries.map((e) => e.address)).toEqual([a!.address]);
  });

  it('reads thousands of entries in pages: a bounded number of range calls, not one per key', async () => {
    const etcd = client();
    const ids = Array.from({ length: 5000 }, (_, i) => `s${String(i).padStart(4, '0')}`);
    await putEntries(etcd, 'read4/servers', 'chat', ids);
    const member = file.etcd.members[0]!;
    const before = await etcdCallsAnswered(member, 'Range');
    // A timeout generous enough that the count, not the time, is what fails one call per key.
    const read = await readEntries({ client: etcd, prefix: 'read4/servers', timeoutMs: 60_000 });
    const calls = (await etcdCallsAnswered(member, 'Range')) - before;
    expect(read.entries.map((e) => e.id)).toEqual(ids);
    expect(read.skipped).toEqual([]);
    // The keys in pages of 1000, then their values in pages: a few calls per 1000 keys.
    // Before: 5005, the keys listed, then each value read by itself.
    expect(calls).toBeLessThanOrEqual(20);
  }, 60_000);

  it('rejects with Unreachable naming the hosts when etcd is not there', async () => {
    await expect(readEntries({ hosts: 'http://127.0.0.1:1', timeoutMs: 3000 })).rejects.toMatchObject({
      code: ErrorCode.Unreachable,
      message: expect.stringMatching(/^cannot read skein\/servers\/ from etcd at http:\/\/127\.0\.0\.1:1: /),
    });
  });
});

/**
 * A real compaction, made after each of the first `times` listings of `client`'s reads, before
 * their values are read: the hook only picks the moment, etcd does the rest. Returns the count
 * of listings so far.
 */
function compactAfterListing(client: Etcd3, prefix: string, times: number): () => number {
  const range = client.kv.range.bind(client.kv);
  let listings = 0;
  client.kv.range = (async (req: Parameters<typeof range>[0], options?: Parameters<typeof range>[1]) => {
    const res = await range(req, options);
    if (req?.keys_only && listings++ < times) {
      const put = await client.put(`${prefix}-elsewhere`).value('x').exec();
      await client.kv.compact({ revision: put.header.revision });
    }
    return res;
  }) as typeof range;
  return () => listings;
}
