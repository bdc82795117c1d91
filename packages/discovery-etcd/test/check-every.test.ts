import { ErrorCode } from '@skein/core';
import { waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar } from '../src/index.js';
import { etcdCallsAnswered, etcdForFile } from './harness.js';

// `checkEveryMs`: the period of a live watch's checks (one Range read each), a discovery's of its
// prefix or a registration's of its own key, counted on a real etcd of one member that nothing
// else reads while the watch runs.

const file = etcdForFile();
const { cleanup, client } = file;

describe("EtcdDiscovery's checkEveryMs", () => {
  it('sets how often a live watch is checked: ten check reads come well before ten checks of the default 3 s could', async () => {
    const member = file.etcd.members[0]!;
    const prefix = 'check-every/servers';
    await client().put(`${prefix}/chat/a`).value(JSON.stringify({ address: '127.0.0.1:4000' }));
    const watch = new EtcdDiscovery({ client: client(), prefix, checkEveryMs: 500 }).watch(() => undefined);
    cleanup.push(() => watch.close());
    await watch.ready({ timeoutMs: 20_000 });
    const before = await etcdCallsAnswered(member, 'Range');
    // Ten at 500 ms is about 5 s; at the default 3 s (the option ignored) it is 30 s, past the bound.
    await waitFor(async () => (await etcdCallsAnswered(member, 'Range')) - before >= 10, { timeoutMs: 20_000, intervalMs: 250, what: 'ten check reads' });
    expect(watch.status().state).toBe('live');
  }, 40_000);

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '500'])('refuses %s with InvalidArgument naming the option, when built', (bad) => {
    expect(() => new EtcdDiscovery({ client: client(), checkEveryMs: bad as number })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringContaining('checkEveryMs') }));
  });

  it('takes the longest period a timer holds, 2^31-1 ms', () => {
    expect(() => new EtcdDiscovery({ client: client(), checkEveryMs: 2 ** 31 - 1 })).not.toThrow();
  });
});

describe("EtcdRegistrar's checkEveryMs", () => {
  it('sets how often a registration reads its own key: ten reads come well before ten of the default 3 s could', async () => {
    const member = file.etcd.members[0]!;
    const reg = await new EtcdRegistrar({ client: client(), prefix: 'check-every-reg/servers', checkEveryMs: 500 }).register({ type: 'chat', id: 'a', address: '127.0.0.1:4000' });
    cleanup.push(() => reg.close());
    const before = await etcdCallsAnswered(member, 'Range');
    // Ten at 500 ms is about 5 s; at the default 3 s (the option ignored) it is 30 s, past the bound.
    await waitFor(async () => (await etcdCallsAnswered(member, 'Range')) - before >= 10, { timeoutMs: 20_000, intervalMs: 250, what: 'ten reads of the key' });
    expect(reg.status().state).toBe('live');
  }, 40_000);

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '500'])('refuses %s with InvalidArgument naming the option, when built', (bad) => {
    expect(() => new EtcdRegistrar({ client: client(), checkEveryMs: bad as number })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringContaining('checkEveryMs') }));
  });
});
