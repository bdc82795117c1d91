import { memoryLogger, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdRegistrar } from '../src/index.js';
import { etcdForFile } from './harness.js';

const file = etcdForFile();
const { cleanup, client } = file;

describe('closing a registration while etcd does not answer', () => {
  it('settles (the entry then goes with its lease) instead of waiting for etcd to come back', async () => {
    const logger = memoryLogger();
    const reg = await new EtcdRegistrar({ client: client(), prefix: 'silent/servers', ttlSeconds: 2, logger }).register({ type: 'chat', id: 'c1', address: '127.0.0.1:4001' });
    const member = file.etcd.members[0]!;
    // Stopped, not killed: connections stay open and requests wait unanswered (a silent etcd).
    member.proc!.kill('SIGSTOP');
    cleanup.push(() => member.proc?.kill('SIGCONT'));

    // The guard only keeps a hang from blocking the run; before the fix, close() waited for etcd.
    await within(reg.close(), 20_000, 'close()');
    expect(reg.status().state).toBe('closed');
    expect(logger.lines.some((l) => /could not revoke the lease/.test(l.msg ?? ''))).toBe(true);

    member.proc!.kill('SIGCONT');
    const reader = client();
    // Not kept alive any more: the entry is gone once etcd answers (revoked late, or expired).
    await waitFor(async () => (await reader.get('silent/servers/chat/c1').string()) === null, { timeoutMs: 20_000, what: 'the entry to go' });
  }, 60_000);
});
