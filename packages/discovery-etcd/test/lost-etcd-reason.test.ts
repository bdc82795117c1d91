import { waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar } from '../src/index.js';
import { etcdForFile } from './harness.js';

const file = etcdForFile();
const { cleanup, client } = file;

// What an operator reads when a live etcd goes away (killed) under a registration and a watch
// sharing one client. 8b8d5e6 gave a refused register() and a watch's read `failureReason`
// (gRPC's empty "Resolution note:" dropped, etcd3's open breaker named); the keepalive's, the
// broken watch's, the lost lease's and the key guard's reasons still used the raw words.
describe('etcd lost under a registration and a watch', () => {
  it("the registration's key guard names etcd3's open breaker and the etcd; no reason carries an empty \"Resolution note\"", async () => {
    const etcd = client();
    const registration = await new EtcdRegistrar({ client: etcd, prefix: 'lost/servers', ttlSeconds: 3 }).register({ type: 'ledger', id: 'l-1', address: '127.0.0.1:4000' });
    cleanup.push(() => registration.close());
    const watch = new EtcdDiscovery({ client: etcd, prefix: 'lost/servers', backoff: { initialMs: 50, maxMs: 200 } }).watch(() => {});
    cleanup.push(() => watch.close());
    await watch.ready();
    await file.etcd.members[0]!.stop('SIGKILL');
    cleanup.push(() => file.etcd.members[0]!.start());
    const reasons = new Set<string>();
    const note = (s: { state: string; reason?: string }): void => void (s.state === 'stale' && reasons.add(s.reason!));
    // The key guard's checks fail until etcd3's breaker (opened by the failures before) refuses one.
    const guarded = (): string | undefined => [...reasons].find((r) => r.startsWith('cannot watch its key:') && r.includes('circuit breaker'));
    await waitFor(() => (note(watch.status()), note(registration.status()), guarded()), { timeoutMs: 30_000, what: "the key guard's breaker reason" });
    expect(guarded()).toMatch(/^cannot watch its key: etcd3's circuit breaker for etcd at 127\.0\.0\.1:\d+ is open: earlier calls on this client failed/);
    for (const r of reasons) expect(r).not.toMatch(/Resolution note/);
  }, 60_000);
});
