import { createCluster } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode } from '@skein/core';
import type { FailoverPool } from '@skein/stream';
import { memoryLogger, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar, followClusterDiscovery } from '../src/index.js';
import { Chat, chatCluster, chatServer as chatServerOf, etcdForFile, transport } from './harness.js';

const { cleanup, client } = etcdForFile();
const chatServer = (name: string): Promise<string> => chatServerOf(name, cleanup);

describe('a createCluster cluster fed by etcd', () => {
  it('adds, moves and removes members by id as servers register, re-register elsewhere and leave', async () => {
    const prefix = 'cluster/servers';
    const logger = memoryLogger();
    const { rpc, events } = chatCluster(cleanup);
    const watch = followClusterDiscovery(rpc.$cluster, new EtcdDiscovery({ client: client(), prefix }), { logger });
    cleanup.push(() => watch.close());
    const registrar = new EtcdRegistrar({ client: client(), prefix });

    const first = await registrar.register({ type: 'chat', id: 'chat-1', address: await chatServer('first'), meta: { version: '1' } });
    const other = await registrar.register({ type: 'chat', id: 'chat-2', address: await chatServer('other') });
    const stray = await registrar.register({ type: 'gate', id: 'gate-1', address: '127.0.0.1:1' });
    cleanup.push(() => other.close(), () => stray.close());
    // gate-1, written last, waited for too: the two chat members can be in before its entry
    // (and the refusal it brings) has been seen.
    await waitFor(() => rpc.$cluster.members('chat').length === 2 && watch.entries().some((e) => e.id === 'gate-1'), { what: 'two chat members, and gate-1 seen' });
    expect(await rpc.chat.$to('chat-1').Chat.whoami()).toBe('first');
    expect(await rpc.chat.$to('chat-2').Chat.whoami()).toBe('other');
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => `${l.msg}: ${l.obj.type}/${l.obj.id}`)).toEqual(['the cluster refused a discovered server: gate/gate-1']);

    // chat-1 restarts elsewhere under the same id: the cluster moves it.
    const moved = await registrar.register({ type: 'chat', id: 'chat-1', address: await chatServer('second'), meta: { version: '1' } });
    await first.close().catch(() => undefined); // its key now belongs to `moved`'s lease; revoking the old lease leaves it
    await waitFor(() => rpc.$cluster.members('chat').find((m) => m.id === 'chat-1')?.address !== first.entry.address, { what: 'chat-1 moved' });
    expect(await rpc.chat.$to('chat-1').Chat.whoami()).toBe('second');

    await moved.close();
    await waitFor(() => rpc.$cluster.members('chat').length === 1, { what: 'chat-1 gone' });
    await expect(rpc.chat.$to('chat-1').Chat.whoami()).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(await rpc.chat.Chat.whoami()).toBe('other');
    expect(events).toEqual(['add chat/chat-1', 'add chat/chat-2', 'remove chat/chat-1', 'add chat/chat-1', 'remove chat/chat-1']);
  });

  it('skips servers of a type the cluster lacks: no error line when they leave, and it forgets them once gone', async () => {
    const prefix = 'cluster-stray/servers';
    const logger = memoryLogger();
    const rpc = createCluster({ codec: msgpackCodec, transport, types: { chat: { services: [Chat] } } });
    cleanup.push(() => within(rpc.$cluster.close(), 10_000, 'cluster close'));
    const watch = followClusterDiscovery(rpc.$cluster, new EtcdDiscovery({ client: client(), prefix, logger }), { logger });
    cleanup.push(() => watch.close());
    const registrar = new EtcdRegistrar({ client: client(), prefix });
    await watch.ready();
    const chat = await registrar.register({ type: 'chat', id: 'chat-1', address: await chatServer('chat') });
    cleanup.push(() => chat.close());

    // Gate servers come and go three times (the last id twice); each is refused, none is an error.
    for (const id of ['gate-1', 'gate-2', 'gate-1']) {
      const gate = await registrar.register({ type: 'gate', id, address: '127.0.0.1:1' });
      await waitFor(() => watch.entries().some((e) => e.id === id), { what: `${id} seen` });
      await gate.close();
      await waitFor(() => !watch.entries().some((e) => e.id === id), { what: `${id} gone` });
    }
    await waitFor(() => rpc.$cluster.members('chat').length === 1, { what: 'chat-1 a member' });
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([]);
    // Refused once per stay: gate-1 is forgotten when it leaves, so its return is said again.
    expect(logger.lines.filter((l) => l.msg === 'the cluster refused a discovered server').map((l) => l.obj.id)).toEqual(['gate-1', 'gate-2', 'gate-1']);
    expect(rpc.$cluster.members('chat').map((m) => m.id)).toEqual(['chat-1']);
  });

  it("changes a member's weight in place: no leave and join, its connection and health stay", async () => {
    const prefix = 'cluster-weight/servers';
    const events: string[] = [];
    let pool: FailoverPool | undefined;
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      types: { chat: { services: [Chat] } },
      onMembershipChange: (event, type, m) => void events.push(`${event} ${type}/${m.id}`),
      wrapCaller: (caller, target) => ((pool = target.pool), caller),
    });
    cleanup.push(() => within(rpc.$cluster.close(), 10_000, 'cluster close'));
    const watch = followClusterDiscovery(rpc.$cluster, new EtcdDiscovery({ client: client(), prefix }));
    cleanup.push(() => watch.close());
    const registrar = new EtcdRegistrar({ client: client(), prefix });
    const address = await chatServer('chat');
    const first = await registrar.register({ type: 'chat', id: 'chat-1', address });
    await waitFor(() => rpc.$cluster.members('chat').length === 1, { what: 'chat-1 a member' });
    expect(await rpc.chat.Chat.whoami()).toBe('chat');
    expect(pool!.stats()).toMatchObject([{ address, weight: 1, state: 'ready', connections: 1 }]);

    // Written again with weight 3 (a new registration of the same key, then the old one closed).
    const heavier = await registrar.register({ type: 'chat', id: 'chat-1', address, weight: 3 });
    cleanup.push(() => heavier.close());
    await first.close();
    await waitFor(() => rpc.$cluster.members('chat')[0]?.weight === 3, { what: 'weight 3' });
    expect(pool!.stats()).toMatchObject([{ address, weight: 3, state: 'ready', connections: 1 }]);
    expect(events).toEqual(['add chat/chat-1']);
    expect(await rpc.chat.Chat.whoami()).toBe('chat');
  });
});

describe('followClusterDiscovery and members it did not add', () => {
  it('leaves a configured member alone when an entry of the same id is reweighed, moves and leaves (before the fix: reweighed, replaced, then removed)', async () => {
    const prefix = 'own-members/servers';
    const logger = memoryLogger();
    const fixed = await chatServer('fixed');
    const { rpc, events } = chatCluster(cleanup, { servers: [{ id: 'chat-1', address: fixed }] });
    const watch = followClusterDiscovery(rpc.$cluster, new EtcdDiscovery({ client: client(), prefix }), { logger, lastLeaveGraceMs: 0 });
    cleanup.push(() => watch.close());
    const registrar = new EtcdRegistrar({ client: client(), prefix });
    const entry = () => watch.entries().find((e) => e.id === 'chat-1');
    const configured = [{ id: 'chat-1', address: fixed }];

    // Another server registers under the configured id: the cluster refuses it (the id is taken).
    const elsewhere = await chatServer('registered');
    const first = await registrar.register({ type: 'chat', id: 'chat-1', address: elsewhere });
    await waitFor(() => entry() !== undefined, { what: 'the entry seen' });
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => `${l.msg}: ${l.obj.type}/${l.obj.id}`)).toEqual(['the cluster refused a discovered server: chat/chat-1']);

    // Reweighed: not the configured member's weight to change.
    const heavier = await registrar.register({ type: 'chat', id: 'chat-1', address: elsewhere, weight: 3 });
    await first.close();
    await waitFor(() => entry()?.weight === 3, { what: 'the entry reweighed' });
    expect(rpc.$cluster.members('chat')).toEqual(configured);

    // Moved: the configured member is not the one that moved.
    const moved = await registrar.register({ type: 'chat', id: 'chat-1', address: await chatServer('moved') });
    await heavier.close();
    await waitFor(() => entry()?.address !== elsewhere, { what: 'the entry moved' });
    expect(rpc.$cluster.members('chat')).toEqual(configured);

    // Gone: the configured member stays, and answers.
    await moved.close();
    await waitFor(() => entry() === undefined, { what: 'the entry gone' });
    expect(rpc.$cluster.members('chat')).toEqual(configured);
    expect(await rpc.chat.Chat.whoami()).toBe('fixed');
    expect(events).toEqual([]);
    expect(logger.lines.filter((l) => l.level !== 'debug' && l.level !== 'info').length).toBe(1); // the one refusal, said once
  }, 30_000);
});

describe('followClusterDiscovery and a closed cluster', () => {
  it('stops following once the cluster is closed: the next server to join closes the watch, refused by no line', async () => {
    const prefix = 'closed-cluster/servers';
    const logger = memoryLogger();
    const { rpc, events } = chatCluster(cleanup);
    const watch = followClusterDiscovery(rpc.$cluster, new EtcdDiscovery({ client: client(), prefix }), { logger });
    cleanup.push(() => watch.close());
    await watch.ready();
    await rpc.$cluster.close();
    const reg = await new EtcdRegistrar({ client: client(), prefix }).register({ type: 'chat', id: 'chat-1', address: await chatServer('late') });
    cleanup.push(() => reg.close());
    await waitFor(() => watch.status().state === 'closed', { what: 'the watch closed at the first join after the close' });
    expect(events).toEqual([]);
    expect(logger.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
  });
});
