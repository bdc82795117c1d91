import { memoryLogger, waitFor } from '@skein/test-utils';
import { FailoverPool, followDiscovery } from '@skein/stream';
import { describe, it } from 'vitest';
import { EtcdDiscovery, readEntries } from '../src/index.js';
import { etcdForFile, namedServer, rawKey, textOf, transport } from './harness.js';

// Keys and values under the prefix written by another tool (anyone may write there): a key that
// is not UTF-8, a value that is not JSON, an empty one. A real etcd, real servers, a real pool.

const file = etcdForFile();

const entry = (address: string) => JSON.stringify({ address });

function follow(own: ReturnType<typeof file.forTest>, prefix: string) {
  const logger = memoryLogger();
  const pool = new FailoverPool({ transport, servers: [] });
  const watch = followDiscovery(pool, new EtcdDiscovery({ client: own.client(), prefix, logger, backoff: { initialMs: 10, maxMs: 100 } }), { type: 'chat' });
  own.cleanup.push(() => pool.close(), () => watch.close());
  // A key that is not UTF-8 by its bytes (its text, each bad byte U+FFFD, is the same for both here).
  const named = (key: string | Buffer, obj: Record<string, unknown>) => (typeof key === 'string' ? obj.key === key : obj.hex === key.toString('hex'));
  const warned = (key: string | Buffer) => logger.lines.filter((l) => l.level === 'warn' && named(key, l.obj)).length;
  return { pool, watch, logger, warned, ids: () => watch.entries().map((e) => e.id).sort() };
}

describe.concurrent('entries written under the prefix by another tool', () => {
  it('a key that is not UTF-8 is no entry: it never joins, and its writes and deletes leave the member whose id reads the same alone', async (t) => {
    const { expect } = t;
    const own = file.forTest(t);
    const prefix = 'foreign-utf8/servers';
    const admin = own.client();
    const real = await namedServer('real');
    own.cleanup.push(() => real.server.close());
    // A real server whose id is U+FFFD (UTF-8 EF BF BD): the text a key ending in 0xff reads as.
    await admin.put(`${prefix}/chat/\ufffd`).value(entry(real.address));
    // Foreign keys ending in bytes that are not UTF-8, one with a readable entry as its value.
    await admin.put(rawKey(prefix, 0xfe)).value(entry('127.0.0.1:1'));
    const f = follow(own, prefix);
    await f.watch.ready({ timeoutMs: 20_000 });
    // Before: the foreign key joined as a member of id U+FFFD over the real one (address 127.0.0.1:1).
    expect(f.watch.entries().map((e) => e.address)).toEqual([real.address]);
    await admin.put(rawKey(prefix, 0xff)).value('not json');
    await admin.delete().key(rawKey(prefix, 0xfe));
    await admin.put(`${prefix}/other/marker`).value(entry('127.0.0.1:2'));
    await waitFor(() => f.ids().includes('marker'), { what: 'the writes after the foreign ones delivered' });
    // Before: the foreign write whose value is not JSON (and the foreign delete) removed the real server.
    expect(f.watch.entries().filter((e) => e.id === '\ufffd').map((e) => e.address)).toEqual([real.address]);
    expect(textOf(await f.pool.call('who'))).toBe('real');
    // One warn line for each foreign key, naming it as etcd has it (its bytes, shown as text).
    expect(f.warned(rawKey(prefix, 0xfe))).toBe(1);
    expect(f.warned(rawKey(prefix, 0xff))).toBe(1);
    // A one-off listing says the same: the foreign key is skipped, the real server is listed.
    const listed = await readEntries({ client: admin, prefix, type: 'chat' });
    expect(listed.entries.map((e) => e.address)).toEqual(expect.arrayContaining([real.address]));
    expect(listed.entries.filter((e) => e.id === '\ufffd')).toHaveLength(1);
    expect(listed.skipped.map((s) => s.why)).toEqual([expect.stringMatching(/not UTF-8/)]);
  }, 60_000);

  it('a key rewritten many times with values that are not entries is logged once, not once per write, and keeps the others', async (t) => {
    const { expect } = t;
    const own = file.forTest(t);
    const prefix = 'foreign-storm/servers';
    const admin = own.client();
    const real = await namedServer('real');
    own.cleanup.push(() => real.server.close());
    await admin.put(`${prefix}/chat/a`).value(entry(real.address));
    await admin.put(`${prefix}/chat/broken`).value('');
    const f = follow(own, prefix);
    await f.watch.ready({ timeoutMs: 20_000 });
    const broken = `${prefix}/chat/broken`;
    expect(f.warned(broken)).toBe(1);
    // A tool rewriting it in a loop: not JSON, empty, JSON that is no entry.
    const values = ['{not json', '', '[1,2]', '{"address":"nowhere"}', 'x'.repeat(10_000)];
    for (let i = 0; i < 50; i++) await admin.put(broken).value(values[i % values.length]!);
    await admin.put(`${prefix}/other/marker`).value(entry('127.0.0.1:2'));
    await waitFor(() => f.ids().includes('marker'), { what: 'the writes after the storm delivered' });
    // Before: 51 warn lines for one key.
    expect(f.warned(broken)).toBe(1);
    expect(f.ids()).toEqual(['a', 'marker']);
    expect(textOf(await f.pool.call('who'))).toBe('real');
    // Once it is an entry it joins; written bad again, it leaves and is logged once more.
    await admin.put(broken).value(entry('127.0.0.1:3'));
    await waitFor(() => f.ids().includes('broken'), { what: 'the repaired entry joined' });
    await admin.put(broken).value('{not json');
    await admin.put(broken).value('{not json either');
    await admin.delete().key(`${prefix}/other/marker`);
    await waitFor(() => !f.ids().includes('marker'), { what: 'the writes after it delivered' });
    expect(f.ids()).toEqual(['a']);
    expect(f.warned(broken)).toBe(2);
  }, 60_000);
});
