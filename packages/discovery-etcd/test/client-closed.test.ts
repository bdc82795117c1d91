import { ErrorCode, RpcError } from '@skein/core';
import { EtcdDiscovery, EtcdRegistrar, keyOf } from '../src/index.js';
import { memoryLogger, startProcess, waitFor, within } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { etcdCallsAnswered, etcdClient, etcdForFile, etcdHeld } from './harness.js';

/*
 * An etcd3 client closed under a watch or a registration (its owner shut down: "closing it is
 * yours too") can never read, watch or write again. etcd3's close fails only the calls made after
 * it: the streams already open (a watch's, a lease's keepalive stream) go on over the closed
 * channel. The watch tried again for good on a referenced timer, or, with nothing in flight,
 * stayed `live` on its stream; the registration kept its lease alive, and so its entry listed,
 * for as long as the process lived. Either way a process that closed its etcd3 client, but not
 * the watch or the registration, never exited. Now both end when the client is closed.
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

  it('ends with it also when nothing of it is in flight (its watch open, its resume checked)', async () => {
    const member = file.etcd.members[0]!;
    const before = await etcdCallsAnswered(member, 'Range');
    const client = etcdClient(file.etcd.endpoints);
    const watch = new EtcdDiscovery({ client, prefix: 'closed-idle/servers' }).watch(() => {});
    cleanup.push(() => watch.close());
    // An empty prefix: one read lists it, one checks the revision once the watch is connected.
    // Both answered, the watch has nothing in flight: only its open stream, which a close leaves.
    await waitFor(async () => (await etcdCallsAnswered(member, 'Range')) >= before + 2, { what: "the watch's two reads answered" });
    expect(watch.status().state).toBe('live');
    client.close();
    expect(watch.status().state).toBe('closed');
  });

  it.each(['pool', 'cluster', 'registration'])('a process that closed its %s and its etcd3 client, but not the watch or registration, exits by itself', async (mode) => {
    const proc = startProcess(process.execPath, [fixture, file.etcd.endpoints[0]!, `exit-${mode}/servers`, mode]);
    cleanup.push(() => (proc.kill('SIGKILL'), proc.exited));
    await proc.waitForLine(/^closed$/);
    // Far past the backoff's 100 ms: a process held by nothing of Skein's or etcd3's is gone by then.
    expect(await within(proc.exited, 15_000, 'the process to exit by itself')).toBe(0);
    expect(proc.lines).toEqual(['live', 'closed', `${mode === 'registration' ? 'registration' : 'watch'} closed`]);
  }, 30_000);
});

describe('a registration whose etcd3 client is closed', () => {
  const entry = { type: 'chat', id: 'closed-1', address: '127.0.0.1:1001' };

  it('ends at once (closed, one warn line naming it): its keepalive stream ends and its entry goes when the lease expires', async () => {
    const prefix = 'closed-reg/servers';
    const observer = file.client();
    const member = file.etcd.members[0]!;
    const client = etcdClient(file.etcd.endpoints);
    cleanup.push(() => client.close());
    const logger = memoryLogger();
    const reg = await new EtcdRegistrar({ client, prefix, ttlSeconds: 2, logger, backoff: { initialMs: 20, maxMs: 100 } }).register(entry);
    cleanup.push(() => reg.close());
    await waitFor(async () => (await etcdHeld(member, observer)).keepalives === 1, { what: 'the keepalive stream open' });

    client.close();
    expect(reg.status().state).toBe('closed');
    const warned = logger.lines.filter((l) => l.level === 'warn');
    expect(warned.map((l) => l.msg)).toEqual(['registration ended: its etcd3 client was closed']);
    expect(warned[0]!.obj.reason).toMatch(/the etcd3 client was closed/);
    // Nothing renews the lease any more: etcd deletes the entry within the TTL.
    await waitFor(async () => (await etcdHeld(member, observer)).keepalives === 0, { what: 'the keepalive stream ended' });
    await waitFor(async () => (await observer.get(keyOf(prefix, { ...entry, weight: 1, meta: {} })).string()) === null, { what: 'the entry gone with its lease' });
    await within(reg.close(), 1000, 'close after the client closed');
    expect(reg.status().state).toBe('closed');
  });

  it('cannot be made on a closed client: register() rejects with Closed, never to retry', async () => {
    const client = etcdClient(file.etcd.endpoints);
    client.close();
    const err = await new EtcdRegistrar({ client, prefix: 'closed-before/servers', ttlSeconds: 2 }).register(entry).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(ErrorCode.Closed);
    expect((err as RpcError).retry).toBe('never');
    expect((err as RpcError).message).toMatch(/the etcd3 client was closed/);
  });
});
