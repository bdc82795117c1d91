import { createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { nodeRuntime } from '@skein/runtime-node';
import { RpcServer, createRouter, type ActionHandler } from '@skein/stream';
import type { EtcdRegistrar } from '../src/index.js';
import { startEtcd, type EtcdCluster, type StartEtcdOptions } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll } from 'vitest';

export const transport = tcpTransport(nodeRuntime);

const utf8 = new TextEncoder();
const text = new TextDecoder();
export const str = (s: string): Uint8Array => utf8.encode(s);
export const textOf = (r: { msg: Uint8Array }): string => text.decode(r.msg);

/** An etcd3 client on these endpoints; quick to notice a member that is gone. */
export function etcdClient(endpoints: string | string[]): Etcd3 {
  return new Etcd3({ hosts: endpoints, dialTimeout: 2000 });
}

/**
 * One etcd for a test file: started before its tests, stopped after them. `cleanup` runs after
 * each test, last in first out; `client()` gives an etcd3 client closed after the test.
 */
export function etcdForFile(opts: StartEtcdOptions = {}) {
  let etcd: EtcdCluster | undefined;
  const cleanup: (() => unknown)[] = [];
  beforeAll(async () => {
    etcd = await startEtcd(opts);
  }, 60_000);
  afterAll(() => etcd?.close());
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  return {
    get etcd(): EtcdCluster {
      return etcd!;
    },
    cleanup,
    client(endpoints: string | string[] = etcd!.endpoints): Etcd3 {
      const c = etcdClient(endpoints);
      cleanup.push(() => c.close());
      return c;
    },
  };
}

export interface NamedServer {
  name: string;
  server: RpcServer;
  address: string;
}

/** An in-process server whose `who` answers its name, plus any other actions. */
export async function namedServer(name: string, more: Record<string, ActionHandler> = {}): Promise<NamedServer> {
  const server = new RpcServer({ dispatch: createRouter({ who: () => str(name), ...more }), closeWaitMs: 2000 });
  const a = await server.listen(transport, '127.0.0.1:0');
  return { name, server, address: `127.0.0.1:${'port' in a ? a.port : 0}` };
}

/**
 * Starts a named server per name and registers each under `type`, its id its name; both are
 * closed by `cleanup` (the file's). The servers, in order.
 */
export async function registeredServers(registrar: EtcdRegistrar, type: string, names: readonly string[], cleanup: (() => unknown)[]): Promise<NamedServer[]> {
  const started: NamedServer[] = [];
  for (const name of names) {
    const s = await namedServer(name);
    cleanup.push(() => s.server.close());
    const reg = await registrar.register({ type, id: name, address: s.address });
    cleanup.push(() => reg.close());
    started.push(s);
  }
  return started;
}

/** The service of the cluster tests' servers: `whoami` answers the server's name. */
export const Chat = service('Chat', { whoami: method<void, string>() });

/** A Chat server (msgpack, as `createCluster` calls it) that answers `whoami` with `name`, closed by `cleanup`; its address. */
export async function chatServer(name: string, cleanup: (() => unknown)[]): Promise<string> {
  const server = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, services: [implement(Chat, { whoami: () => name })] }) });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return `127.0.0.1:${'port' in a ? a.port : 0}`;
}
