import { EtcdDiscovery } from '../src/index.js';
import { startProcess, waitFor, within } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { etcdClient, etcdForFile } from './harness.js';

/*
 * An etcd3 client closed under a watch (its owner shut down: "closing it is yours too") can
 * never read or watch again. The watch tried again for good, on a referenced timer, so a
 * process that closed its pool or cluster and its etcd3 client, but not the watch, never exited.
 * Now the watch ends (closed) when the client it reads through is closed.
 */

const file = etcdForFile();
const { cleanup } = file;
const fixture = fileURLToPath(new URL('./fixtures/client-closed-exit.mjs', import.meta.url));

describe('a watch whose etcd3 client is closed', () => {
  it('ends with it: its status is closed', async () => {
    const client = etcdClient(file.etcd.endpoints);
    const watch = new EtcdDiscovery({ client, prefix: 'closed-client/servers', backoff: { initialMs: 10, maxMs: 20 } }).watch(() => {});
    cleanup.push(() => watch.close());
    await watch.ready();
    client.close();
    await waitFor(() => watch.status().state === 'closed', { timeoutMs: 10_000, what: 'the watch to end with its client' });
  });

  it.each(['pool', 'cluster'])('a process that closed its %s and its etcd3 client, but not the watch, exits by itself', async (mode) => {
    const proc = startProcess(process.execPath, [fixture, file.etcd.endpoints[0]!, `exit-${mode}/servers`, mode]);
    cleanup.push(() => (proc.kill('SIGKILL'), proc.exited));
    await proc.waitForLine(/^closed$/);
    // Far past the backoff's 100 ms: a process held by nothing of Skein's or etcd3's is gone by then.
    expect(await within(proc.exited, 15_000, 'the process to exit by itself')).toBe(0);
    expect(proc.lines).toEqual(['live', 'closed', 'watch closed']);
  }, 30_000);
});
