import { memoryLogger, sleep, waitFor } from '@skein/test-utils';
import { discoveryEntry } from '@skein/stream';
import type { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar, encodeValue, keyOf, readEntries } from '../src/index.js';
import { etcdCallsAnswered, etcdForFile, putEntries } from './harness.js';

// etcd takes requests up to 1.5 MiB unless told otherwise; raised, a single value can be past
// the 4 MiB a gRPC client takes in one message.
const file = etcdForFile({ args: ['--max-request-bytes', String(8 << 20)] });
const { cleanup, client } = file;

let prefixes = 0;
const freshPrefix = () => `huge${++prefixes}/servers`;
const huge = 'x'.repeat(5 << 20);

async function put(c: Etcd3, prefix: string, id: string): Promise<void> {
  const e = discoveryEntry({ type: 'chat', id, address: `127.0.0.1:${4000 + Number(id.slice(1))}` });
  await c.put(keyOf(prefix, e)).value(encodeValue(e));
}

/** A check period shorter than the default 3 s, for the test that waits several checks of the live watch. */
const SHORT_CHECK_MS = 300;

function follow(prefix: string, checkEveryMs?: number) {
  const logger = memoryLogger();
  const c = client();
  const watch = new EtcdDiscovery({ client: c, prefix, logger, backoff: { initialMs: 50, maxMs: 200 }, checkEveryMs }).watch(() => undefined);
  cleanup.push(() => watch.close());
  const skipped = () => logger.lines.filter((l) => l.msg === 'ignoring a discovery entry too large to read').map((l) => l.obj.key);
  return { watch, logger, skipped, valueReads: valueReads(c), client: c };
}

/** Counts, by key, the reads of a value (not of keys alone) that the client sends to etcd. */
function valueReads(c: Etcd3): Map<string, number> {
  const reads = new Map<string, number>();
  const range = c.kv.range.bind(c.kv);
  c.kv.range = (req, opts) => {
    if (!req.keys_only && !req.range_end) reads.set(String(req.key), (reads.get(String(req.key)) ?? 0) + 1);
    return range(req, opts);
  };
  return reads;
}

const ids = (w: { entries(): { id: string }[] }): string => w.entries().map((x) => x.id).sort().join();

describe('a single value larger than one gRPC message (etcd run with a raised --max-request-bytes)', () => {
  it('is skipped with a warn line when it is there before the watch starts; the rest is read and followed', async () => {
    const prefix = freshPrefix();
    const writer = client();
    await put(writer, prefix, 'c1');
    await writer.put(`${prefix}/chat/huge`).value(huge);

    const f = follow(prefix);
    await f.watch.ready(); // before the fix: never
    expect(f.watch.status().state).toBe('live');
    expect(ids(f.watch)).toBe('c1');
    await put(writer, prefix, 'c2');
    await waitFor(() => ids(f.watch) === 'c1,c2', { what: 'a later change' });
    expect(f.skipped()).toEqual([`${prefix}/chat/huge`]);
  }, 60_000);

  it('is skipped with a warn line when it is written while watching; the watch goes on, and each key is read once, not each version', async () => {
    const prefix = freshPrefix();
    const writer = client();
    await put(writer, prefix, 'c1');
    await writer.put(`${prefix}/chat/h1`).value(huge);
    const f = follow(prefix);
    await f.watch.ready();

    // Breaks the watch (one response past the limit): the view is read again, h1 unchanged.
    await writer.put(`${prefix}/chat/h2`).value(huge);
    await put(writer, prefix, 'c2');
    await waitFor(() => f.watch.status().state === 'live' && ids(f.watch) === 'c1,c2', { timeoutMs: 30_000, what: 'the watch past the huge value' });
    await writer.put(`${prefix}/chat/h1`).value(huge);
    await put(writer, prefix, 'c3');
    await waitFor(() => f.watch.status().state === 'live' && ids(f.watch) === 'c1,c2,c3', { timeoutMs: 30_000, what: 'the watch past it again' });
    expect(f.skipped()).toEqual([`${prefix}/chat/h1`, `${prefix}/chat/h2`, `${prefix}/chat/h1`]);
    // h1's second version, which broke the watch as its first did, is presumed too large, not
    // read: the read would only be refused again. Before the fix: read again.
    expect(f.valueReads.get(`${prefix}/chat/h1`)).toBe(1);
    expect(f.valueReads.get(`${prefix}/chat/h2`)).toBe(1);

    // A value of it small enough is delivered by the watch, and read as any other.
    await put(writer, prefix, 'h1');
    await waitFor(() => ids(f.watch) === 'c1,c2,c3,h1', { what: 'h1 readable again' });
    await writer.put(`${prefix}/chat/h2`).value(huge); // breaks the watch: h1 is read again with the rest, as a member
    await put(writer, prefix, 'c4');
    await waitFor(() => f.watch.status().state === 'live' && ids(f.watch) === 'c1,c2,c3,c4,h1', { timeoutMs: 30_000, what: 'the watch past h2 again' });
    expect(f.valueReads.get(`${prefix}/chat/h2`)).toBe(1);
  }, 90_000);

  it("never opens etcd3's circuit breaker: the client's other calls go on, before and after a new key too large", async () => {
    const prefix = freshPrefix();
    const writer = client();
    await put(writer, prefix, 'c1');
    await writer.put(`${prefix}/chat/h1`).value(huge);
    const f = follow(prefix);
    // What else an application has on its client: a registration (lease keepalives), another watch.
    const reg = await new EtcdRegistrar({ client: f.client, prefix: `${prefix}-own` }).register({ type: 'chat', id: 'me', address: '127.0.0.1:1' });
    cleanup.push(() => reg.close());
    const other = new EtcdDiscovery({ client: f.client, prefix: `${prefix}-other` }).watch(() => undefined);
    cleanup.push(() => other.close());
    await f.watch.ready();
    expect(f.skipped()).toEqual([`${prefix}/chat/h1`]);
    // Right after the read that failed. Before the fix: "the circuit breaker is open" for 5 s.
    expect(await f.client.get(`${prefix}/chat/c1`).string()).toContain('127.0.0.1:4001');

    await writer.put(`${prefix}/chat/h2`).value(huge); // new: breaks the watch, is read once
    await waitFor(() => f.skipped().length === 2, { timeoutMs: 30_000, what: 'the new key left out' });
    expect(await f.client.get(`${prefix}/chat/c1`).string()).toContain('127.0.0.1:4001');
    await put(writer, prefix, 'c2');
    await waitFor(() => f.watch.status().state === 'live' && ids(f.watch) === 'c1,c2', { timeoutMs: 30_000, what: 'the watch past it' });
    await expect(f.client.get(`${prefix}/chat/c2`).string()).resolves.toContain('127.0.0.1:4002');
    expect(reg.status().state).toBe('live');
  }, 60_000);

  it('leaves a watch live after a key too large to read that is no entry (not <prefix>/<type>/<id>) is deleted', async () => {
    const prefix = freshPrefix();
    const writer = client();
    await put(writer, prefix, 'c1');
    await writer.put(`${prefix}/stray`).value(huge);
    const { watch, logger, skipped } = follow(prefix, SHORT_CHECK_MS);
    await watch.ready({ timeoutMs: 30_000 });
    expect(skipped()).toEqual([`${prefix}/stray`]);
    await writer.delete().key(`${prefix}/stray`);
    await put(writer, prefix, 'c2');
    await waitFor(() => watch.status().state === 'live' && logger.lines.some((l) => l.msg?.includes('not <prefix>/<type>/<id>')), { what: 'the delete seen' });
    // Before: the key stayed counted as left out (only an entry's key was forgotten), etcd had one
    // key less than the watch counted, and every other check of the live watch said behind.
    await sleep(6 * SHORT_CHECK_MS + 1000);
    expect(logger.lines.filter((l) => l.msg?.includes('is stale')).map((l) => l.obj.reason)).toEqual([]);
  }, 60_000);

  it('is skipped by readEntries among hundreds of small values read in pages: each of those is read, in a bounded number of calls', async () => {
    const prefix = freshPrefix();
    const writer = client();
    const ids = Array.from({ length: 300 }, (_, i) => `s${String(i).padStart(3, '0')}`);
    await putEntries(writer, prefix, 'chat', ids);
    // Amid them: the page that holds it is refused whole, and read again in halves.
    await writer.put(`${prefix}/chat/s150x`).value(huge);
    const c = client();
    const member = file.etcd.members[0]!;
    const before = await etcdCallsAnswered(member, 'Range');
    const read = await readEntries({ client: c, prefix, timeoutMs: 30_000 });
    const calls = (await etcdCallsAnswered(member, 'Range')) - before;
    expect(read.entries.map((e) => e.id)).toEqual(ids);
    expect(read.skipped).toEqual([{ key: `${prefix}/chat/s150x`, why: 'its value is too large to read' }]);
    // Halving down to it costs two calls a level. Before: 302, the keys listed, then each value read by itself.
    expect(calls).toBeLessThanOrEqual(40);
    // No refusal opened etcd3's circuit breaker: the client's next call goes through.
    expect(await c.get(`${prefix}/chat/s000`).string()).toContain('10.0.0.0:4000');
  }, 60_000);

  it('is named once by readEntries made again after a compaction, and only if it is still there: what the first read left out is not kept', async () => {
    const prefix = freshPrefix();
    const writer = client();
    for (const id of ['a', 'c', 'e']) await put(writer, prefix, id);
    const [b, d] = [`${prefix}/chat/b`, `${prefix}/chat/d`];
    await writer.put(b).value(huge);
    await writer.put(d).value(huge);
    // Once the first read has left both out (d's refusal comes last), b is deleted, d written
    // again as large, and a real compaction takes that read's revision away: e's read fails and
    // the view is read again. The hook only picks the moment.
    const c = client();
    const range = c.kv.range.bind(c.kv);
    let compactions = 0;
    c.kv.range = (async (req: Parameters<typeof range>[0], options?: Parameters<typeof range>[1]) => {
      try {
        return await range(req, options);
      } catch (err) {
        if (!req.range_end && String(req.key) === d && compactions++ === 0) {
          await writer.delete().key(b);
          const put = await writer.put(d).value(huge).exec();
          await writer.kv.compact({ revision: put.header.revision });
        }
        throw err;
      }
    }) as typeof range;
    const read = await readEntries({ client: c, prefix, timeoutMs: 30_000 });
    expect(compactions).toBe(2);
    expect(read.entries.map((e) => e.id)).toEqual(['a', 'c', 'e']);
    // Before: [b, d, d], b gone from the view read, d named twice.
    expect(read.skipped).toEqual([{ key: d, why: 'its value is too large to read' }]);
  }, 60_000);
});
