import { memoryLogger, waitFor, type EtcdMember } from '@skein/test-utils';
import { discoveryEntry, type DiscoveryEvent, type Watch } from '@skein/stream';
import type { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, encodeValue, keyOf } from '../src/index.js';
import { etcdCallsAnswered, etcdForFile } from './harness.js';

const file = etcdForFile({ members: 3 });
const { cleanup, client } = file;

const prefix = 'resume/servers';

/** Writes an entry the way a registrar does (no lease: the test decides when it goes). */
async function put(c: Etcd3, id: string, weight: number): Promise<void> {
  const e = discoveryEntry({ type: 'chat', id, address: `127.0.0.1:${4000 + Number(id.slice(1))}`, weight });
  await c.put(keyOf(prefix, e)).value(encodeValue(e));
}

function watchLog(d: EtcdDiscovery): { log: string[]; watch: Watch } {
  const log: string[] = [];
  const watch = d.watch((e: DiscoveryEvent) => void log.push(e.kind === 'leave' ? `leave ${e.entry.id}` : `${e.kind} ${e.entry.id} w${e.entry.weight}`));
  cleanup.push(() => watch.close());
  return { log, watch };
}

/**
 * A watch through the one member that will go away, and a writer through the two others (a
 * quorum, so writes go on while the watch's member is down). Starts from an empty prefix.
 */
async function watchThroughOneMember(logger = memoryLogger()) {
  const [near, ...others] = file.etcd.members;
  const writer = client(others.map((m) => m.clientUrl));
  await writer.delete().prefix(`${prefix}/`);
  const { log, watch } = watchLog(new EtcdDiscovery({ client: client(near!.clientUrl), prefix, logger, backoff: { initialMs: 50, maxMs: 500 } }));
  await watch.ready();
  return { near: near!, writer, log, watch };
}

/** Stops the watch's member and waits until the watch says it is stale. */
async function outage(near: EtcdMember, watch: Watch): Promise<void> {
  await near.stop();
  await waitFor(() => watch.status().state === 'stale', { what: 'the watch to notice' });
}

describe('a watch on a 3-member etcd cluster', () => {
  it('resumes after its etcd member restarts: the changes made meanwhile arrive once each, in order, and nothing is replayed', async () => {
    const { near, writer, log, watch } = await watchThroughOneMember();
    await put(writer, 's1', 1);
    await put(writer, 's2', 1);
    // Two writes of one key before the outage: resuming from too early a revision would replay them.
    await put(writer, 's2', 2);
    await waitFor(() => log.length === 3, { what: 'the changes before the outage' });

    await outage(near, watch);
    await put(writer, 's3', 1);
    await writer.delete().key(`${prefix}/chat/s1`);
    await put(writer, 's2', 3);
    await put(writer, 's2', 4);
    expect(log).toHaveLength(3);
    expect(watch.entries().map((e) => e.id).sort()).toEqual(['s1', 's2']);

    await near.start();
    await waitFor(() => watch.status().state === 'live' && log.length >= 7, { timeoutMs: 30_000, what: 'the watch to resume' });
    await put(writer, 's4', 1);
    await waitFor(() => log.length >= 8, { what: 'a change after the resume' });
    expect(log).toEqual(['join s1 w1', 'join s2 w1', 'replace s2 w2', 'join s3 w1', 'leave s1', 'replace s2 w3', 'replace s2 w4', 'join s4 w1']);
    expect(watch.entries().map((e) => `${e.id} w${e.weight}`).sort()).toEqual(['s2 w4', 's3 w1', 's4 w1']);
  }, 90_000);

  it('reads the whole view again when the revision to resume from was compacted, and sends only the difference', async () => {
    const logger = memoryLogger();
    const { near, writer, log, watch } = await watchThroughOneMember(logger);
    await put(writer, 's1', 1);
    await put(writer, 's2', 1);
    await waitFor(() => log.length === 2, { what: 'the first changes' });

    await outage(near, watch);
    await put(writer, 's2', 2);
    await put(writer, 's2', 3);
    await writer.delete().key(`${prefix}/chat/s1`);
    const { header } = await writer.put(`${prefix}-other/marker`).value('x').exec();
    // Compact past everything the watch has not seen: it cannot resume, it must read again.
    await writer.kv.compact({ revision: header.revision, physical: true });

    await near.start();
    await waitFor(() => watch.status().state === 'live' && watch.entries().length === 1 && watch.entries()[0]!.weight === 3, { timeoutMs: 30_000, what: 'the watch to read again' });
    expect(log).toEqual(['join s1 w1', 'join s2 w1', 'replace s2 w3', 'leave s1']);
    // One outage, one line each way: the watch is not live before it has read the view again.
    const said = logger.lines.filter((l) => /discovery is (stale|live)/.test(l.msg ?? '')).map((l) => l.msg!.replace(/: .*/, ''));
    expect(said).toEqual(['etcd discovery is stale', 'etcd discovery is live again']);
  }, 90_000);

  it('resumes by reading one key, not the prefix again, when the history is the same: the one written last, as of what was applied', async () => {
    const [near, ...others] = file.etcd.members;
    const writer = client(others.map((m) => m.clientUrl));
    await writer.delete().prefix(`${prefix}/`);
    // In the first read: s2, rewritten later (the version read is not the one the watch applies).
    await put(writer, 's2', 1);
    const { log, watch } = watchLog(new EtcdDiscovery({ client: client(near!.clientUrl), prefix, backoff: { initialMs: 50, maxMs: 500 } }));
    await watch.ready();
    await put(writer, 's2', 2);
    // The key written last is deleted before the outage: what was applied no longer has it.
    await put(writer, 's3', 1);
    await writer.delete().key(`${prefix}/chat/s3`);
    await waitFor(() => log.length === 4, { what: 'the changes before the outage' });

    await outage(near!, watch);
    await put(writer, 's4', 1);
    await near!.start();
    await waitFor(() => watch.status().state === 'live' && log.length === 5, { timeoutMs: 30_000, what: 'the watch to resume' });
    expect(log).toEqual(['join s2 w1', 'replace s2 w2', 'join s3 w1', 'leave s3', 'join s4 w1']);
    // A member started again counts its calls from 0: the check that the history is the same is
    // all the watch read (a read of the prefix again is a list and one read per key, 4 here).
    expect(await etcdCallsAnswered(near!, 'Range')).toBeLessThanOrEqual(2);
  }, 90_000);
});
