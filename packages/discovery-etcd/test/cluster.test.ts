import { createCluster, createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode } from '@skein/core';
import { RpcServer } from '@skein/stream';
import { memoryLogger, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar, followClusterDiscovery } from '../src/index.js';
import { etcdForFile, transport } from './harness.js';

const Chat = service('Chat', { whoami: method<void, string>() });

const { cleanup, client } = etcdForFile();

/** A Chat server that answers `whoami` with `name`. */
async function chatServer(name: string): Promise<string> {
  const server = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, services: [implement(Chat, { whoami: () => name })] }) });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return `127.0.0.1:${'port' in a ? a.port : 0}`;
}

describe('a createCluster cluster fed by etcd', () => {
  it('adds, moves and removes members by id as servers register, re-register elsewhere and leave', async () => {
    const prefix = 'cluster/servers';
    const logger = memoryLogger();
    const events: string[] = [];
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      types: { chat: { services: [Chat] } },
      onMembershipChange: (event, type, m) => void events.push(`${event} ${type}/${m.id}`),
    });
    cleanup.push(() => within(rpc.$cluster.close(), 10_000, 'cluster close'));
    const watch = followClusterDiscovery(rpc.$cluster, new EtcdDiscovery({ client: client(), prefix }), { logger });
    cleanup.push(() => watch.close());
    const registrar = new EtcdRegistrar({ client: client(), prefix });

    const first = await registrar.register({ type: 'chat', id: 'chat-1', address: await chatServer('first'), meta: { version: '1' } });
    const other = await registrar.register({ type: 'chat', id: 'chat-2', address: await chatServer('other') });
    const stray = await registrar.register({ type: 'gate', id: 'gate-1', address: '127.0.0.1:1' });
    cleanup.push(() => other.close(), () => stray.close());
    await waitFor(() => rpc.$cluster.members('chat').length === 2, { what: 'two chat members' });
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
});
