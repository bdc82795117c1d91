import { describe, expectTypeOf, it } from 'vitest';
import { method, service, type Cluster, type ClusterControl, type ServerTypeConfig } from '../src/index.js';

// A cluster's server types are fixed when it is made (createCluster's `types`): `$cluster` names
// one of them, and a misspelt one fails to compile instead of throwing InvalidArgument at run time.
const Area = service('Area', { enter: method<{ player: string }, number>() });
const Chat = service('Chat', { say: method<string, void>() });
const rpc = null! as Cluster<{ area: ServerTypeConfig<readonly [typeof Area]>; chat: ServerTypeConfig<readonly [typeof Chat]> }>;

describe("$cluster takes the cluster's own server types", () => {
  it('a type of the cluster compiles', () => {
    rpc.$cluster.add('area', { id: 'area-2', address: '127.0.0.1:4001' });
    rpc.$cluster.update('chat', { id: 'chat-1', address: '127.0.0.1:4002', weight: 2 });
    void rpc.$cluster.remove('area', 'area-2');
    expectTypeOf(rpc.$cluster.members('chat')).toEqualTypeOf<ReturnType<ClusterControl['members']>>();
  });

  it('a misspelt one does not', () => {
    // @ts-expect-error no server type 'aera' in this cluster
    rpc.$cluster.add('aera', { id: 'a', address: '127.0.0.1:1' });
    // @ts-expect-error nor 'chats'
    void rpc.$cluster.remove('chats', 'c');
    // @ts-expect-error nor 'Area' (the service's name, not the type's)
    rpc.$cluster.members('Area');
  });

  it('a ClusterControl without its types still takes any string (a helper over any cluster)', () => {
    const control: ClusterControl = rpc.$cluster;
    control.add('anything', { id: 'x', address: '127.0.0.1:1' });
  });
});
