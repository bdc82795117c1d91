import { memoryLogger, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar, followClusterDiscovery } from '../src/index.js';
import { chatCluster, chatServer as chatServerOf, etcdForFile } from './harness.js';

const { cleanup, client } = etcdForFile();
const chatServer = (name: string): Promise<string> => chatServerOf(name, cleanup);

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
