import { etcdFollower, memoryLogger, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar } from '../src/index.js';
import { stopMember, threeMembersInOrder } from './harness.js';

// A registrar and a discovery on the usual client, one etcd3 client given every member, with one
// member stalled (SIGSTOP: its kernel still accepts, nothing answers), the other two a quorum.
// etcd3 sends each call to a member picked at random; here its deterministic order (etcd3's own
// switch for tests) sends every call first to the last host given, the stalled one, so that the
// stall is met every time rather than one call in three. A call there must go on to another
// member within its bound (a registration's TTL, a discovery read's 10 s), and leave the members
// that answer usable.

const file = threeMembersInOrder();
const { cleanup, client } = file;

describe('a registrar and a discovery with one etcd member of three stalled', () => {
  it('registers and withdraws entries through the members that answer', async () => {
    const stalled = await etcdFollower(file.etcd);
    const live = file.etcd.members.filter((m) => m !== stalled).map((m) => m.clientUrl);
    const logger = memoryLogger();
    const prefix = 'stalled-reg/servers';
    // The stalled member last: the first member every call is sent to.
    const registrar = new EtcdRegistrar({ client: client([...live, stalled.clientUrl]), prefix, logger });
    const reader = client(live);
    await stopMember(stalled, cleanup);

    // Three in a row: with the old single deadline, the first failed after the TTL, and the
    // attempts etcd3 made past it failed at once on the healthy members, opening their breakers.
    const regs = [];
    for (const id of ['a', 'b', 'c']) {
      const reg = await registrar.register({ type: 'chat', id, address: `127.0.0.1:${4000 + regs.length}` });
      cleanup.push(() => reg.close());
      expect(reg.status().state).toBe('live');
      regs.push(reg);
    }
    expect(await reader.getAll().prefix(`${prefix}/`).keys()).toEqual([`${prefix}/chat/a`, `${prefix}/chat/b`, `${prefix}/chat/c`]);

    // close() revokes the lease, which deletes the key at once: clients stop routing now.
    for (const reg of regs) await reg.close();
    expect(await reader.getAll().prefix(`${prefix}/`).keys()).toEqual([]);
    expect(logger.lines.filter((l) => l.msg?.startsWith('could not revoke'))).toEqual([]);
  }, 60_000);

  it('reads the view through the members that answer and follows it', async () => {
    const stalled = await etcdFollower(file.etcd);
    const live = file.etcd.members.filter((m) => m !== stalled).map((m) => m.clientUrl);
    const prefix = 'stalled-disc/servers';
    const registrar = new EtcdRegistrar({ client: client(live), prefix });
    for (const id of ['a', 'b', 'c']) {
      const reg = await registrar.register({ type: 'chat', id, address: `127.0.0.1:${4000 + id.charCodeAt(0)}` });
      cleanup.push(() => reg.close());
    }
    // A new client, as an application starting while the member is stalled has.
    const app = client([...live, stalled.clientUrl]);
    await stopMember(stalled, cleanup);

    const ids = new Set<string>();
    const watch = new EtcdDiscovery({ client: app, prefix }).watch((e) => void (e.kind === 'leave' ? ids.delete(e.entry.id) : ids.add(e.entry.id)));
    cleanup.push(() => watch.close());
    // The whole view is read with a call per page (of keys, then of values): each sent first to the stalled member.
    await watch.ready({ timeoutMs: 40_000 });
    expect([...ids].sort()).toEqual(['a', 'b', 'c']);
    const late = await registrar.register({ type: 'chat', id: 'd', address: '127.0.0.1:5000' });
    cleanup.push(() => late.close());
    await waitFor(() => ids.has('d'), { timeoutMs: 20_000, what: 'the new entry seen' });
  }, 90_000);
});
