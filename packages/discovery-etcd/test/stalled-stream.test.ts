import { etcdFollower, memoryLogger, processStopped, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar } from '../src/index.js';
import { WatchCheck, type WatchedView } from '../src/watch-check.js';
import { etcdHeld, stopMember, threeMembersInOrder } from './harness.js';

// Streams (a lease's keepalive stream, a watch) opened on a member of three that then stalls
// (SIGSTOP: its kernel still accepts, nothing answers). Each is put there for sure: etcd3's
// deterministic order (its own switch for tests) sends every stream first to the last host given,
// the member to be stalled, and that member's /metrics shows the stream before it is stopped. A
// stream opened again goes there too unless it is steered away: the worst case of etcd3's random
// pick. The other two members are a quorum and take every write meanwhile.

const file = threeMembersInOrder();
const { cleanup, client } = file;

/**
 * The period of the watch checks below, not the default 3 s: a watch is found behind at its
 * second check that disagrees with etcd, two periods after the change it missed at the least (a
 * test waited 6 s of them). No change is made under a watched prefix before its member stalls,
 * so no check can find a watch behind that is not: the verdict is the same at any period.
 */
const CHECK_MS = 300;

/** A follower to stall, the other members' URLs, and a client of theirs only (its calls never meet the stall). */
async function members() {
  const stalled = await etcdFollower(file.etcd);
  const live = file.etcd.members.filter((m) => m !== stalled).map((m) => m.clientUrl);
  return { stalled, live, admin: client(live) };
}

describe('streams on an etcd member that stalls', () => {
  it('keeps a lease whose keepalive stream is on the stalled member: renewed through another member, no leave', async () => {
    const { stalled, live, admin } = await members();
    const prefix = 'stalled-stream-lease/servers';
    const seen: string[] = [];
    const watch = new EtcdDiscovery({ client: admin, prefix }).watch((e) => void seen.push(`${e.kind} ${e.entry.id}`));
    cleanup.push(() => watch.close());
    await watch.ready();

    const base = (await etcdHeld(stalled, admin)).keepalives;
    const registrar = new EtcdRegistrar({ client: client([...live, stalled.clientUrl]), prefix, ttlSeconds: 3, backoff: { initialMs: 10, maxMs: 100 } });
    const reg = await registrar.register({ type: 'chat', id: 'a', address: '127.0.0.1:4000' });
    cleanup.push(() => reg.close());
    await waitFor(() => seen.includes('join a'), { what: 'the entry seen' });
    await waitFor(async () => (await etcdHeld(stalled, admin)).keepalives === base + 1, { what: 'the keepalive stream on the member to stall' });
    const lease = (await admin.get(`${prefix}/chat/a`).exec()).kvs[0]!.lease;

    const before = reg.status();
    await stopMember(stalled, cleanup);
    // Another `live` than the one before: the keepalive went unanswered (stale), and a stream on
    // another member renewed the lease (live). Before, the silent stream was given up only after a
    // TTL, the lease expired meanwhile (a leave), and the entry was written again under a new one.
    await waitFor(() => reg.status() !== before && reg.status().state === 'live', { timeoutMs: 20_000, what: 'the lease renewed through a member that answers' });
    expect((await admin.get(`${prefix}/chat/a`).exec()).kvs[0]?.lease).toBe(lease);
    expect(seen).toEqual(['join a']);
  }, 30_000);

  it('delivers a change made through the other members to a watch on the stalled member, stale until then', async () => {
    const { stalled, live, admin } = await members();
    const prefix = 'stalled-stream-watch/servers';
    const base = (await etcdHeld(stalled, admin)).watchers;
    const ids = new Set<string>();
    const watch = new EtcdDiscovery({ client: client([...live, stalled.clientUrl]), prefix, backoff: { initialMs: 10, maxMs: 100 }, checkEveryMs: CHECK_MS }).watch((e) => void (e.kind === 'leave' ? ids.delete(e.entry.id) : ids.add(e.entry.id)));
    cleanup.push(() => watch.close());
    await watch.ready();
    await waitFor(async () => (await etcdHeld(stalled, admin)).watchers === base + 1, { what: 'the watch on the member to stall' });

    await stopMember(stalled, cleanup);
    const reg = await new EtcdRegistrar({ client: admin, prefix }).register({ type: 'chat', id: 'b', address: '127.0.0.1:4001' });
    cleanup.push(() => reg.close());
    // Before, the watch heard nothing until the member answered again, and said `live` meanwhile.
    await waitFor(() => watch.status().state === 'stale', { timeoutMs: 20_000, what: 'the watch seen behind' });
    await waitFor(() => ids.has('b'), { timeoutMs: 20_000, what: 'the new entry delivered' });
    await waitFor(() => watch.status().state === 'live', { what: 'the watch live again' });
  }, 30_000);

  it('follows through the members that answer when its watch was first opened on the stalled member', async () => {
    const { stalled, live, admin } = await members();
    const prefix = 'stalled-stream-open/servers';
    await stopMember(stalled, cleanup);
    // Started while the member is stalled, on an empty prefix: the view is one keys-only read,
    // whose attempt on the stalled member is cut (one failure: etcd3's breaker for that member
    // stays closed), and the watch's stream is then sent to the stalled member, where its creation
    // is never answered. Before, it waited there, delivering nothing while the member was stalled.
    const logger = memoryLogger();
    const ids = new Set<string>();
    const watch = new EtcdDiscovery({ client: client([...live, stalled.clientUrl]), prefix, logger, backoff: { initialMs: 10, maxMs: 100 } }).watch((e) => void (e.kind === 'leave' ? ids.delete(e.entry.id) : ids.add(e.entry.id)));
    cleanup.push(() => watch.close());
    await watch.ready({ timeoutMs: 20_000 }); // the view read
    const reg = await new EtcdRegistrar({ client: admin, prefix }).register({ type: 'chat', id: 'c', address: '127.0.0.1:4002' });
    cleanup.push(() => reg.close());
    await waitFor(() => ids.has('c'), { timeoutMs: 20_000, what: 'the new entry delivered' });
    expect(logger.lines.map((l) => String(l.obj.reason))).toContainEqual(expect.stringContaining('was not answered within 5000 ms'));
  }, 30_000);

  it("takes a watch for behind when it missed an update alone, or a delete alone, and not when it applied every change", async () => {
    const { admin } = await members();
    const at = async (key: string): Promise<number> => Number((await admin.put(key).value('v')).header.revision);
    // Each view as the watch has it, caught up: the newest revision applied and the keys held.
    await at('check-deleted/y');
    const views: Record<string, WatchedView> = {
      updated: { revision: await at('check-updated/x'), keys: 1 },
      deleted: { revision: await at('check-deleted/z'), keys: 2 },
      current: { revision: await at('check-current/w'), keys: 1 },
    };
    // Changes the watches did not deliver: a key written again (the count stays), a key deleted (no newer key).
    await at('check-updated/x');
    await admin.delete().key('check-deleted/z');
    const said: string[] = [];
    const looked: Record<string, number> = { updated: 0, deleted: 0, current: 0 };
    for (const name of Object.keys(views)) {
      const check = new WatchCheck({
        client: admin,
        // The views are fixed: what each check finds does not depend on when it runs.
        checkEveryMs: CHECK_MS,
        range: `check-${name}/`,
        view: () => {
          looked[name]!++;
          return views[name]!;
        },
        behind: () => void said.push(name),
        failed: (err) => void said.push(`${name} failed: ${String(err)}`),
      });
      cleanup.push(() => check.stop());
      check.start();
    }
    await waitFor(() => said.length >= 2 && looked.current! >= 2, { timeoutMs: 20_000, what: 'two checks of each' });
    expect(said.sort()).toEqual(['deleted', 'updated']);
  }, 30_000);

  it("sees its key taken or deleted through the other members while its key's watch is on the stalled member", async () => {
    const { stalled, live, admin } = await members();
    const base = (await etcdHeld(stalled, admin)).watchers;
    // Two registrations whose key watches (and keepalive streams) are on the member to stall: one's
    // key is taken by a newer registration of its id, the other's deleted, both through the others.
    const registrar = (prefix: string) => new EtcdRegistrar({ client: client([...live, stalled.clientUrl]), prefix, ttlSeconds: 3, checkEveryMs: 300, backoff: { initialMs: 10, maxMs: 100 } });
    const taken = await registrar('stalled-guard-taken/servers').register({ type: 'chat', id: 'a', address: '127.0.0.1:4000' });
    cleanup.push(() => taken.close());
    const deleted = await registrar('stalled-guard-deleted/servers').register({ type: 'chat', id: 'a', address: '127.0.0.1:4001' });
    cleanup.push(() => deleted.close());
    await waitFor(async () => (await etcdHeld(stalled, admin)).watchers === base + 2, { what: 'both key watches on the member to stall' });
    const gone = (await admin.get('stalled-guard-deleted/servers/chat/a').exec()).kvs[0]!.lease;

    await stopMember(stalled, cleanup);
    const newer = await new EtcdRegistrar({ client: admin, prefix: 'stalled-guard-taken/servers' }).register({ type: 'chat', id: 'a', address: '127.0.0.1:4002' });
    cleanup.push(() => newer.close());
    await admin.delete().key('stalled-guard-deleted/servers/chat/a');
    // Before, neither watch heard of it while the member was stalled: the first said `live` on a
    // key another server held, the second on a key that was gone, no entry for it at all.
    await waitFor(() => taken.status().state === 'stale' && (taken.status() as { reason: string }).reason === 'another registration of this id took the entry', { timeoutMs: 20_000, what: 'the taken key seen' });
    await waitFor(async () => {
      const kv = (await admin.get('stalled-guard-deleted/servers/chat/a').exec()).kvs[0];
      return kv !== undefined && kv.lease !== gone;
    }, { timeoutMs: 20_000, what: 'the deleted key written again' });
    expect(JSON.parse((await admin.get('stalled-guard-taken/servers/chat/a').exec()).kvs[0]!.value.toString()).address).toBe('127.0.0.1:4002');
    expect(newer.status().state).toBe('live');
  }, 40_000);

  it('goes back to the member it left as silent once that member answers again and the other is gone (a client given two members)', async () => {
    const { stalled, live, admin } = await members();
    const other = file.etcd.members.find((m) => m.clientUrl === live[0])!;
    const prefix = 'stalled-stream-back/servers';
    const base = await etcdHeld(stalled, admin);
    // Given two of the three members, the stalled one last: its keepalive stream goes there first.
    const registrar = new EtcdRegistrar({ client: client([other.clientUrl, stalled.clientUrl]), prefix, ttlSeconds: 3, backoff: { initialMs: 10, maxMs: 100 } });
    const reg = await registrar.register({ type: 'chat', id: 'a', address: '127.0.0.1:4000' });
    cleanup.push(() => reg.close());
    const lease = (await admin.get(`${prefix}/chat/a`).exec()).kvs[0]!.lease;
    await waitFor(async () => (await etcdHeld(stalled, admin)).keepalives === base.keepalives + 1, { what: 'the keepalive stream on the member to stall' });

    // Left as silent, the stream goes to the other member; the stalled one then answers again.
    let before = reg.status();
    await stopMember(stalled, cleanup);
    await waitFor(() => reg.status() !== before && reg.status().state === 'live', { timeoutMs: 20_000, what: 'renewed through the other member' });
    stalled.proc!.kill('SIGCONT');
    await waitFor(() => processStopped(stalled.proc!.pid) === false, { what: 'etcd running again' });

    // The other member goes away: the one that answers is the one left as silent before. Before,
    // the stream was kept off it for good, sent to the member gone until the lease ran out.
    cleanup.push(() => (other.proc ? undefined : other.start()));
    before = reg.status();
    await other.stop();
    await waitFor(() => reg.status() !== before && reg.status().state === 'live', { timeoutMs: 20_000, what: 'renewed through the member left before' });
    expect((await admin.get(`${prefix}/chat/a`).exec()).kvs[0]?.lease).toBe(lease);
    await other.start();
  }, 60_000);
});

