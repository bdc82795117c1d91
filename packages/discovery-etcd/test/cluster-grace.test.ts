import { createCluster, type Member } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode } from '@skein/core';
import { StaticDiscovery } from '@skein/stream';
import { memoryLogger, sleep, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar, followClusterDiscovery, type ClusterMembership, type FollowClusterOptions } from '../src/index.js';
import { Chat, callFlood, chatCluster, chatServer, chatServerOf, etcdForFile, stallEtcd, transport } from './harness.js';

const file = etcdForFile();
const { cleanup, client } = file;
const HOLDING = 'the last member of a type left discovery: keeping it until one of its type joins or the grace is over';
const OUTLASTED = 'the grace is over but the last member of a type still answers: keeping it until it stops answering, one of its type joins, or its type has another';

/** A memory logger that runs `then` in the turn the follower says it holds a member (the grace's start). */
function onHolding(then: () => void) {
  const logger = memoryLogger();
  return {
    ...logger,
    info: (obj: object, msg?: string): void => {
      logger.info(obj, msg);
      if (msg === HOLDING) then();
    },
  };
}

/** A cluster of one type, `chat`, followed on `prefix`; `events` says each add and remove, `sizes` the member count after each. */
function followedCluster(prefix: string, opts: FollowClusterOptions & { withoutMembers?: boolean; servers?: Member[] } = {}) {
  const sizes: number[] = [];
  const { rpc, events } = chatCluster(cleanup, { servers: opts.servers, timeoutMs: 5000, changed: () => void sizes.push(rpc.$cluster.members('chat').length) });
  // A cluster of one's own making may lack `members`: the follower then counts the members it added.
  const { add, update, remove } = rpc.$cluster;
  const membership: ClusterMembership = opts.withoutMembers ? { add, update, remove } : rpc.$cluster;
  const discovery = new EtcdDiscovery({ client: client(), prefix, backoff: { initialMs: 50, maxMs: 500 } });
  const watch = followClusterDiscovery(membership, discovery, opts);
  cleanup.push(() => watch.close());
  const ids = (): string[] => rpc.$cluster.members('chat').map((m) => m.id);
  return { rpc, watch, events, sizes, ids };
}

describe('followClusterDiscovery through etcd stalled for longer than the lease TTL', () => {
  // Grace 0 is the code before lastLeaveGraceMs: the stall empties the type and calls fail.
  it.each([
    { grace: 'off', lastLeaveGraceMs: 0 },
    { grace: 'default', lastLeaveGraceMs: undefined },
  ])('with the grace $grace, a flood through the cluster while every lease expires at once and is written again', async ({ lastLeaveGraceMs }) => {
    const prefix = `stall-${lastLeaveGraceMs ?? 'default'}/servers`;
    const registrar = new EtcdRegistrar({ client: client(), prefix, ttlSeconds: 2, backoff: { initialMs: 10, maxMs: 200 } });
    for (const name of ['a', 'b', 'c']) {
      const reg = await registrar.register({ type: 'chat', id: name, address: await chatServer(name, cleanup) });
      cleanup.push(() => reg.close());
    }
    const { rpc, watch, sizes, ids } = followedCluster(prefix, { lastLeaveGraceMs });
    // A second watch says what discovery passed on: that the leases did expire and came back.
    const seen: string[] = [];
    const observer = new EtcdDiscovery({ client: client(), prefix }).watch((e) => void seen.push(`${e.kind} ${e.entry.id}`));
    cleanup.push(() => observer.close());
    await Promise.all([watch.ready(), observer.ready()]);
    await waitFor(() => ids().length === 3, { what: 'three members' });

    const flood = callFlood(() => rpc.chat.Chat.whoami());
    await stallEtcd(file.etcd.members[0]!, 3500, cleanup);

    const count = (kind: string): number => seen.filter((s) => s.startsWith(kind)).length;
    await waitFor(() => count('leave') >= 3 && count('join') >= 6, { timeoutMs: 20_000, what: 'every entry to leave and join again' });
    await waitFor(() => ids().length === 3, { what: 'the cluster whole again' });
    const before = flood.calls;
    await waitFor(() => flood.calls >= before + 100 || (lastLeaveGraceMs === 0 && flood.failed.length > 0), { what: 'calls after the stall' });
    await flood.stop();

    if (lastLeaveGraceMs === 0) {
      // The defect this guards against: the type had no member. (Calls fail only if one is made
      // while it has none, which the re-registrations' timing decides: 3,616–3,832 in four runs
      // here, none in one fresh-clone CI run; not asserted.)
      expect(Math.min(...sizes)).toBe(0);
    } else {
      expect(Math.min(...sizes)).toBeGreaterThan(0);
      expect(flood.failed).toEqual([]);
    }
  }, 60_000);
});

describe("followClusterDiscovery's grace for a type's last member", () => {
  it.each([{ withoutMembers: false }, { withoutMembers: true }])(
    'keeps the last member when it leaves until a join: itself back (kept, or moved to its new address), or another (added, then the held one goes); cluster without members(): $withoutMembers',
    async ({ withoutMembers }) => {
      const prefix = `join-${withoutMembers}/servers`;
      const logger = memoryLogger();
      const { rpc, watch, events, ids } = followedCluster(prefix, { lastLeaveGraceMs: 60_000, logger, withoutMembers });
      const registrar = new EtcdRegistrar({ client: client(), prefix });
      const first = await chatServer('first', cleanup);
      let one = await registrar.register({ type: 'chat', id: 'chat-1', address: first });
      await waitFor(() => ids().length === 1, { what: 'chat-1 a member' });

      // Withdrawn (the lease revoked: a leave at once), then back under the same id and address.
      await one.close();
      await waitFor(() => watch.entries().length === 0, { what: 'chat-1 gone from discovery' });
      expect(ids()).toEqual(['chat-1']);
      expect(await rpc.chat.Chat.whoami()).toBe('first');
      one = await registrar.register({ type: 'chat', id: 'chat-1', address: first });
      await waitFor(() => watch.entries().length === 1, { what: 'chat-1 back in discovery' });
      expect(events.splice(0)).toEqual(['add chat/chat-1']);
      expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]); // not refused as a duplicate

      // Withdrawn, and back under the same id at a new address (restarted elsewhere): moved.
      await one.close();
      await waitFor(() => watch.entries().length === 0, { what: 'chat-1 gone' });
      const moved = await chatServer('moved', cleanup);
      one = await registrar.register({ type: 'chat', id: 'chat-1', address: moved });
      await waitFor(() => rpc.$cluster.members('chat')[0]?.address === moved, { what: 'chat-1 moved' });
      expect(await rpc.chat.Chat.whoami()).toBe('moved');
      expect(events.splice(0)).toEqual(['remove chat/chat-1', 'add chat/chat-1']);

      // Withdrawn again, and another server joins: it is a member before the held one goes.
      await one.close();
      await waitFor(() => watch.entries().length === 0, { what: 'chat-1 gone again' });
      const two = await registrar.register({ type: 'chat', id: 'chat-2', address: await chatServer('second', cleanup) });
      cleanup.push(() => two.close());
      await waitFor(() => ids().join() === 'chat-2', { what: 'chat-2 in place of chat-1' });
      expect(events.splice(0)).toEqual(['add chat/chat-2', 'remove chat/chat-1']);
      expect(await rpc.chat.Chat.whoami()).toBe('second');

      // A leave that leaves the type another member is applied at once, grace or not.
      const three = await registrar.register({ type: 'chat', id: 'chat-3', address: await chatServer('third', cleanup) });
      await waitFor(() => ids().length === 2, { what: 'chat-3 a member' });
      await three.close();
      await waitFor(() => ids().join() === 'chat-2', { timeoutMs: 10_000, what: 'chat-3 removed' });
      expect(events.splice(0)).toEqual(['add chat/chat-3', 'remove chat/chat-3']);

      // The type's last member now is chat-2 (chat-1 and chat-3 were removed): its leave is held.
      await two.close();
      await waitFor(() => watch.entries().length === 0, { what: 'chat-2 gone from discovery' });
      expect(ids()).toEqual(['chat-2']);
      expect(logger.lines.filter((l) => l.msg === HOLDING).map((l) => l.obj.id)).toEqual(['chat-1', 'chat-1', 'chat-1', 'chat-2']);
    },
    30_000,
  );

  it.each([{ withoutMembers: false }, { withoutMembers: true }])(
    'removes a withdrawn last member once the grace is over; cluster without members(): $withoutMembers',
    async ({ withoutMembers }) => {
      const prefix = `expire-${withoutMembers}/servers`;
      const logger = memoryLogger();
      const { events, ids } = followedCluster(prefix, { lastLeaveGraceMs: 300, logger, withoutMembers });
      const registrar = new EtcdRegistrar({ client: client(), prefix });
      const one = await registrar.register({ type: 'chat', id: 'chat-1', address: await chatServer('first', cleanup) });
      await waitFor(() => ids().length === 1, { what: 'chat-1 a member' });
      await one.close();
      await waitFor(() => logger.lines.some((l) => l.msg === HOLDING), { what: 'chat-1 held' });
      expect(ids()).toEqual(['chat-1']);
      await waitFor(() => ids().length === 0, { what: 'chat-1 removed after the grace' });
      expect(events).toEqual(['add chat/chat-1', 'remove chat/chat-1']);
    },
    30_000,
  );

  it("removes a discovered member at once when the type keeps a configured one: the cluster's members() counts", async () => {
    const prefix = 'configured/servers';
    const fixed = await chatServer('fixed', cleanup);
    const { events, ids, watch } = followedCluster(prefix, { lastLeaveGraceMs: 60_000, servers: [{ id: 'fixed', address: fixed }] });
    const registrar = new EtcdRegistrar({ client: client(), prefix });
    const one = await registrar.register({ type: 'chat', id: 'chat-1', address: await chatServer('first', cleanup) });
    await waitFor(() => ids().length === 2, { what: 'chat-1 a member' });
    await one.close();
    await waitFor(() => watch.entries().length === 0 && ids().join() === 'fixed', { timeoutMs: 10_000, what: 'chat-1 removed' });
    expect(events).toEqual(['add chat/chat-1', 'remove chat/chat-1']);
  });

  it('keeps the held member when the watch is closed during the grace: closing stops following', async () => {
    const prefix = 'close/servers';
    const logger = memoryLogger();
    const { watch, events, ids } = followedCluster(prefix, { lastLeaveGraceMs: 300, logger });
    const registrar = new EtcdRegistrar({ client: client(), prefix });
    const one = await registrar.register({ type: 'chat', id: 'chat-1', address: await chatServer('first', cleanup) });
    await waitFor(() => ids().length === 1, { what: 'chat-1 a member' });
    await one.close();
    await waitFor(() => logger.lines.some((l) => l.msg === HOLDING), { what: 'chat-1 held' });
    await watch.close();
    await sleep(900); // three graces: the held member's timer has long fired
    expect(ids()).toEqual(['chat-1']);
    expect(events).toEqual(['add chat/chat-1']);
  });

  /**
   * The type's only member, called once (a connection up), withdraws its entry while its server
   * still answers (the lease revoked: what its clients see of a server cut off from etcd alone):
   * resolves once the grace is over and the member was kept, or removed.
   */
  async function heldPastGrace(prefix: string) {
    const logger = memoryLogger();
    const followed = followedCluster(prefix, { lastLeaveGraceMs: 200, logger });
    const registrar = new EtcdRegistrar({ client: client(), prefix });
    const first = await chatServerOf('first', cleanup);
    const reg = await registrar.register({ type: 'chat', id: 'chat-1', address: first.address });
    await waitFor(() => followed.ids().length === 1, { what: 'chat-1 a member' });
    expect(await followed.rpc.chat.Chat.whoami()).toBe('first');
    await reg.close();
    await waitFor(() => logger.lines.some((l) => l.msg === OUTLASTED) || followed.ids().length === 0, { what: 'the grace to be over' });
    return { ...followed, logger, registrar, first };
  }

  it('keeps past the grace a last member that left discovery but still answers, and calls of its type succeed', async () => {
    const { rpc, ids, events, logger } = await heldPastGrace('answers/servers');
    expect(ids()).toEqual(['chat-1']);
    expect(await Promise.all(Array.from({ length: 4 }, () => rpc.chat.Chat.whoami()))).toEqual(['first', 'first', 'first', 'first']);
    expect(events).toEqual(['add chat/chat-1']);
    expect(logger.lines.filter((l) => l.msg === OUTLASTED).map((l) => l.obj.id)).toEqual(['chat-1']);
  });

  it('removes the last member kept past the grace once it stops answering (its server closed); calls then fail Unreachable', async () => {
    const { rpc, ids, events, first } = await heldPastGrace('answers-closed/servers');
    expect(ids()).toEqual(['chat-1']);
    await first.server.close();
    await waitFor(() => ids().length === 0, { what: 'chat-1 removed once it stopped answering' });
    expect(events).toEqual(['add chat/chat-1', 'remove chat/chat-1']);
    await expect(rpc.chat.Chat.whoami()).rejects.toMatchObject({ code: ErrorCode.Unreachable });
  });

  it('replaces the last member kept past the grace when one of its type joins', async () => {
    const { rpc, ids, events, registrar } = await heldPastGrace('answers-joined/servers');
    expect(ids()).toEqual(['chat-1']);
    const two = await registrar.register({ type: 'chat', id: 'chat-2', address: await chatServer('second', cleanup) });
    cleanup.push(() => two.close());
    await waitFor(() => ids().join() === 'chat-2', { what: 'chat-2 in place of chat-1' });
    expect(events).toEqual(['add chat/chat-1', 'add chat/chat-2', 'remove chat/chat-1']);
    expect(await rpc.chat.Chat.whoami()).toBe('second');
  });

  it('removes the last member kept past the grace once its type has another, added by hand (no join: the add is a change its watch hears)', async () => {
    const { rpc, ids, events } = await heldPastGrace('answers-by-hand/servers');
    expect(ids()).toEqual(['chat-1']);
    rpc.$cluster.add('chat', { id: 'chat-2', address: await chatServer('second', cleanup) });
    await waitFor(() => ids().join() === 'chat-2', { what: 'chat-1 to go, chat-2 there' });
    expect(events).toEqual(['add chat/chat-1', 'add chat/chat-2', 'remove chat/chat-1']);
    expect(await rpc.chat.Chat.whoami()).toBe('second');
  });

  it('removes at the grace end a held member that still answers when its type has another, added by hand during the grace', async () => {
    const prefix = 'by-hand-in-grace/servers';
    const second = await chatServer('second', cleanup);
    const logger = onHolding(() => rpc.$cluster.add('chat', { id: 'chat-2', address: second }));
    const { rpc, ids, events } = followedCluster(prefix, { lastLeaveGraceMs: 200, logger });
    const registrar = new EtcdRegistrar({ client: client(), prefix });
    const reg = await registrar.register({ type: 'chat', id: 'chat-1', address: await chatServer('first', cleanup) });
    await waitFor(() => ids().length === 1, { what: 'chat-1 a member' });
    expect(await rpc.chat.Chat.whoami()).toBe('first'); // a connection up: it answers
    await reg.close();
    await waitFor(() => ids().join() === 'chat-2', { what: 'chat-1 to go at the grace end' });
    expect(events).toEqual(['add chat/chat-1', 'add chat/chat-2', 'remove chat/chat-1']);
    expect(logger.lines.filter((l) => l.msg === OUTLASTED)).toEqual([]);
  });

  it('removes nothing from a cluster closed while its last member is kept past the grace', async () => {
    const { rpc, ids, events } = await heldPastGrace('answers-cluster-closed/servers');
    // Told after the follower's own watcher (watchers are told in the order they came): once this
    // one has heard of a change since the close (chat-1's pool closed), the follower has too.
    let closing = false;
    let heard = false;
    cleanup.push(rpc.$cluster.watchStates('chat', () => void (heard ||= closing)));
    closing = true;
    await rpc.$cluster.close();
    await waitFor(() => heard, { what: "chat-1's pool to close" });
    expect(ids()).toEqual(['chat-1']);
    expect(events).toEqual(['add chat/chat-1']);
  });

  it('removes nothing from a cluster closed during the grace', async () => {
    const prefix = 'cluster-closed-in-grace/servers';
    const logger = onHolding(() => void rpc.$cluster.close());
    const { rpc, ids, events } = followedCluster(prefix, { lastLeaveGraceMs: 200, logger });
    const registrar = new EtcdRegistrar({ client: client(), prefix });
    const reg = await registrar.register({ type: 'chat', id: 'chat-1', address: await chatServer('first', cleanup) });
    await waitFor(() => ids().length === 1, { what: 'chat-1 a member' });
    expect(await rpc.chat.Chat.whoami()).toBe('first');
    await reg.close();
    await waitFor(() => logger.lines.some((l) => l.msg === HOLDING), { what: 'chat-1 held' });
    // A later timer than the grace's (set before the line): Node runs timers in the order they fall due.
    await sleep(200);
    expect(rpc.$cluster.closed).toBe(true);
    expect(ids()).toEqual(['chat-1']);
    expect(events).toEqual(['add chat/chat-1']);
  });

  it('removes nothing from a closed cluster when a member leaves discovery after the close: it stops following', async () => {
    const prefix = 'cluster-closed-leave/servers';
    const { rpc, watch, ids, events } = followedCluster(prefix, { lastLeaveGraceMs: 200 });
    const registrar = new EtcdRegistrar({ client: client(), prefix });
    const one = await registrar.register({ type: 'chat', id: 'chat-1', address: await chatServer('first', cleanup) });
    cleanup.push(() => one.close());
    const two = await registrar.register({ type: 'chat', id: 'chat-2', address: await chatServer('second', cleanup) });
    await waitFor(() => ids().length === 2, { what: 'two members' });
    await rpc.$cluster.close();
    await two.close(); // not the last: before the fix, removed at once from the closed cluster
    await waitFor(() => watch.status().state === 'closed', { what: 'the follower to stop' });
    expect(ids()).toEqual(['chat-1', 'chat-2']);
    expect(events).toEqual(['add chat/chat-1', 'add chat/chat-2']);
  });

  it('keeps the last member kept past the grace when the watch is closed, also once it stops answering: closing stops following', async () => {
    const { rpc, ids, events, first, watch } = await heldPastGrace('answers-unfollowed/servers');
    expect(ids()).toEqual(['chat-1']);
    await watch.close();
    // Told after the follower's own watcher (watchers are told in the order they came): once this
    // one has seen chat-1 stop answering, the follower has seen it too.
    let down = false;
    const unwatch = rpc.$cluster.watchStates('chat', () => void (down ||= !rpc.$cluster.answers('chat', 'chat-1')));
    cleanup.push(unwatch);
    await first.server.close();
    await waitFor(() => down, { what: 'chat-1 to stop answering' });
    expect(ids()).toEqual(['chat-1']);
    expect(events).toEqual(['add chat/chat-1']);
  });

  it.each(['answers', 'watchStates'] as const)('removes at the grace end a held member the cluster cannot tell of (its %s throws), with a warn line', async (broken) => {
    const { rpc, events } = chatCluster(cleanup);
    const entry = { type: 'chat', id: 'chat-1', address: await chatServer('first', cleanup) };
    const logger = memoryLogger();
    const membership: ClusterMembership = {
      ...rpc.$cluster,
      [broken]: () => {
        throw new Error('broken');
      },
    };
    // The in-memory backend: this is about what the follower does with the cluster's answers.
    const d = new StaticDiscovery([entry]);
    followClusterDiscovery(membership, d, { lastLeaveGraceMs: 20, logger });
    expect(await rpc.chat.Chat.whoami()).toBe('first'); // a connection up: it answers
    d.set([]);
    await waitFor(() => rpc.$cluster.count('chat') === 0, { what: 'chat-1 removed' });
    expect(events).toEqual(['add chat/chat-1', 'remove chat/chat-1']);
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.obj.reason)).toContain('broken');
  });

  it('ends the wait for good when the held member comes back: it stays past the grace', async () => {
    const { rpc, events } = chatCluster(cleanup);
    // The in-memory backend: the leave and the join come in one turn, so the grace's length decides nothing.
    const entry = { type: 'chat', id: 'chat-1', address: await chatServer('first', cleanup) };
    const d = new StaticDiscovery([entry]);
    followClusterDiscovery(rpc.$cluster, d, { lastLeaveGraceMs: 20 });
    d.set([]);
    d.set([entry]);
    await sleep(100); // five graces
    expect(rpc.$cluster.members('chat').map((m) => m.id)).toEqual(['chat-1']);
    expect(events).toEqual(['add chat/chat-1']);
  });

  it('with lastLeaveGraceMs 0, removes the last member in the turn it leaves', async () => {
    const rpc = createCluster({ codec: msgpackCodec, transport, types: { chat: { services: [Chat] } } });
    cleanup.push(() => rpc.$cluster.close());
    const d = new StaticDiscovery([{ type: 'chat', id: 'chat-1', address: await chatServer('first', cleanup) }]);
    followClusterDiscovery(rpc.$cluster, d, { lastLeaveGraceMs: 0 });
    d.set([]);
    expect(rpc.$cluster.members('chat')).toEqual([]);
  });

  it('refuses a lastLeaveGraceMs no timer can hold, as followDiscovery does', () => {
    const rpc = createCluster({ codec: msgpackCodec, transport, types: { chat: { services: [Chat] } } });
    cleanup.push(() => rpc.$cluster.close());
    for (const bad of [-1, Number.NaN, 2 ** 31]) {
      expect(() => followClusterDiscovery(rpc.$cluster, new StaticDiscovery(), { lastLeaveGraceMs: bad })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    }
  });
});
