import { msgpackCodec } from '@skein/codec-msgpack';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createCluster, method, service } from '../src/index.js';
import { transport } from './harness.js';

const Area = service('Area', { whoami: method<void, string>() });
const cleanup = cleanups();

// A FailoverPool keys a member by its address without the transport's scheme (`ws://h:1` and
// `h:1` are one server). The cluster counted the ids naming a server by formatAddress, which
// keeps `ws://`: two ids of one server so spelled counted as two servers, and removing one id
// removed the server from the pool under the other.
describe('a cluster whose ids name one server in two spellings', () => {
  it('keeps the server while an id still names it', async () => {
    const changes: string[] = [];
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      types: {
        area: {
          services: [Area],
          servers: [{ id: 'area-1', address: 'ws://127.0.0.1:1' }, { id: 'area-1-next', address: '127.0.0.1:1' }],
          pool: { onMembershipChange: (e) => void changes.push(`${e.type} ${e.address}`) },
        },
      },
    });
    cleanup.push(() => rpc.$cluster.close());
    await rpc.$cluster.remove('area', 'area-1');
    expect(rpc.$cluster.members('area').map((m) => m.id)).toEqual(['area-1-next']);
    expect(changes).toEqual([]);
    await rpc.$cluster.remove('area', 'area-1-next');
    expect(changes).toEqual(['remove 127.0.0.1:1']);
  });

  // A wss:// URL without a port (as copied from a proxy's config) was "not an address"; it is
  // port 443, one server with its `:443` spelling.
  it('counts wss://h/p and wss://h:443/p as one server', async () => {
    const changes: string[] = [];
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      types: {
        area: {
          services: [Area],
          servers: [{ id: 'area-1', address: 'wss://127.0.0.1/skein' }, { id: 'area-1-next', address: 'wss://127.0.0.1:443/skein' }],
          pool: { onMembershipChange: (e) => void changes.push(`${e.type} ${e.address}`) },
        },
      },
    });
    cleanup.push(() => rpc.$cluster.close());
    await rpc.$cluster.remove('area', 'area-1');
    expect(rpc.$cluster.members('area').map((m) => m.id)).toEqual(['area-1-next']);
    expect(changes).toEqual([]);
    await rpc.$cluster.remove('area', 'area-1-next');
    expect(changes).toEqual(['remove wss://127.0.0.1:443/skein']);
  });

  // DNS names are case-insensitive (RFC 4343): two ids naming `wss://API.example.com/skein` and
  // `wss://api.example.com/skein` counted as two servers, two members of the pool.
  it('counts a host written in two cases as one server', async () => {
    const changes: string[] = [];
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      types: {
        area: {
          services: [Area],
          servers: [{ id: 'area-1', address: 'wss://LocalHost/skein' }, { id: 'area-1-next', address: 'wss://localhost/skein' }],
          pool: { onMembershipChange: (e) => void changes.push(`${e.type} ${e.address}`) },
        },
      },
    });
    cleanup.push(() => rpc.$cluster.close());
    await rpc.$cluster.remove('area', 'area-1');
    expect(rpc.$cluster.members('area').map((m) => m.id)).toEqual(['area-1-next']);
    expect(changes).toEqual([]);
    await rpc.$cluster.remove('area', 'area-1-next');
    expect(changes).toEqual(['remove wss://localhost:443/skein']);
  });
});
