import { waitFor } from '@skein/test-utils';
import { discoveryEntry } from '@skein/stream';
import type { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, encodeValue, keyOf } from '../src/index.js';
import { etcdForFile } from './harness.js';

const file = etcdForFile({ members: 3 });
const { cleanup, client } = file;

const prefix = 'large/servers';
// Another writer's values, each under etcd's request limit (1.5 MiB), together past the 4 MiB a
// gRPC client takes in one message by default.
const big = 'x'.repeat(1_400_000);

async function put(c: Etcd3, id: string): Promise<void> {
  const e = discoveryEntry({ type: 'chat', id, address: `127.0.0.1:${4000 + Number(id.slice(1))}` });
  await c.put(keyOf(prefix, e)).value(encodeValue(e));
}

async function putBlobs(c: Etcd3): Promise<void> {
  for (let i = 0; i < 4; i++) await c.put(`${prefix}/blob/b${i}`).value(big);
}

function follow(c: Etcd3) {
  const watch = new EtcdDiscovery({ client: c, prefix, backoff: { initialMs: 50, maxMs: 200 } }).watch(() => undefined);
  cleanup.push(() => watch.close());
  return watch;
}

const ids = (w: { entries(): { id: string }[] }): string[] => w.entries().map((x) => x.id).sort();

describe('a prefix larger than one gRPC message', () => {
  it('is read whole: big values from another writer do not keep the watch from its first view', async () => {
    const writer = client();
    await writer.delete().prefix(`${prefix}/`);
    await put(writer, 'c1');
    await putBlobs(writer);

    const watch = follow(client());
    await watch.ready(); // before the fix: never (every read of the prefix failed)
    expect(watch.status().state).toBe('live');
    expect(ids(watch)).toEqual(['c1']);
  }, 30_000);

  it('is caught up after an outage during which big values were written: the watch goes live again with what changed', async () => {
    const [near, ...others] = file.etcd.members;
    const writer = client(others.map((m) => m.clientUrl));
    await writer.delete().prefix(`${prefix}/`);
    await put(writer, 'c1');
    const watch = follow(client(near!.clientUrl));
    await watch.ready();

    await near!.stop();
    await waitFor(() => watch.status().state === 'stale', { what: 'the watch to notice' });
    // Missed while the member is down: resuming would deliver them in one response.
    await putBlobs(writer);
    await put(writer, 'c2');
    await writer.delete().key(`${prefix}/chat/c1`);

    await near!.start();
    // Before the fix: stale for good, each resume broken by the same oversized response.
    await waitFor(() => watch.status().state === 'live' && ids(watch).join() === 'c2', { timeoutMs: 40_000, what: 'the watch to catch up' });
  }, 90_000);
});
