import { memoryLogger, processStopped, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdRegistrar } from '../src/index.js';
import { etcdForFile } from './harness.js';

const file = etcdForFile();
const { cleanup, client } = file;

/** Stops etcd without closing its connections: requests wait unanswered (a silent etcd). */
async function silence(): Promise<() => void> {
  const member = file.etcd.members[0]!;
  member.proc!.kill('SIGSTOP');
  const resume = () => member.proc?.kill('SIGCONT');
  cleanup.push(resume);
  // Until then a request sent now may still be answered (the revoke, in the first test).
  await waitFor(() => processStopped(member.proc!.pid), { what: 'etcd stopped' });
  return resume;
}

describe('closing a registration while etcd does not answer', () => {
  it('settles (the entry then goes with its lease) instead of waiting for etcd to come back', async () => {
    const logger = memoryLogger();
    const reg = await new EtcdRegistrar({ client: client(), prefix: 'silent/servers', ttlSeconds: 2, logger }).register({ type: 'chat', id: 'c1', address: '127.0.0.1:4001' });
    const resume = await silence();

    // The guard only keeps a hang from blocking the run; before the fix, close() waited for etcd.
    await within(reg.close(), 20_000, 'close()');
    expect(reg.status().state).toBe('closed');
    expect(logger.lines.some((l) => /could not revoke the lease/.test(l.msg ?? ''))).toBe(true);

    resume();
    const reader = client();
    // Not kept alive any more: the entry is gone once etcd answers (revoked late, or expired).
    await waitFor(async () => (await reader.get('silent/servers/chat/c1').string()) === null, { timeoutMs: 20_000, what: 'the entry to go' });
  }, 60_000);

  it('settles while it is writing the entry again after losing its lease to the silence', async () => {
    const logger = memoryLogger();
    const reg = await new EtcdRegistrar({ client: client(), prefix: 'silent/servers', ttlSeconds: 2, logger, backoff: { initialMs: 1, maxMs: 1 } }).register({ type: 'chat', id: 'c2', address: '127.0.0.1:4002' });
    await silence();
    // etcd3 gives the lease up after twice the TTL without an answer; the rewrite then waits on etcd.
    await waitFor(() => logger.lines.some((l) => l.msg === 'writing the entry again'), { timeoutMs: 20_000, what: 'a rewrite under way' });

    // Before the fix, close() waited for that rewrite, which waited for etcd: for good.
    await within(reg.close(), 20_000, 'close()');
    expect(reg.status().state).toBe('closed');
  }, 60_000);
});
