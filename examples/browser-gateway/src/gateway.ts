// The front: serves Gateway over WebSocket with TLS; each handler calls Store through a
// FailoverPool that follows discovery, passing its ctx on (deadline and cancel, docs say).
import { createClient, createServiceDispatch, implement } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger, type Logger } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { FailoverPool, RpcServer, followDiscovery, type Discovery } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { Gateway, Store } from './contract.js';

export interface GatewayOptions {
  discovery: Discovery;
  tls: { cert: string; key: string };
  logger?: Logger;
}

export interface RunningGateway {
  port: number;
  pool: FailoverPool;
  close(): Promise<void>;
}

export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  const pool = new FailoverPool({ transport: tcpTransport(nodeRuntime), servers: [] });
  const watch = followDiscovery(pool, opts.discovery, { type: 'store' });
  await watch.ready({ timeoutMs: 5000 });
  const store = createClient(Store, pool, { codec: msgpackCodec });

  const gateway = implement(Gateway, {
    async *items(q, ctx) {
      for await (const item of await store.items(q, { ctx })) yield item;
    },
    check: (arg, ctx) => store.check(arg, { ctx }),
    crash: (arg, ctx) => store.crash(arg, { ctx }),
    slow: (arg, ctx) => store.slow(arg, { ctx }),
    charge: (arg, ctx) => store.charge(arg, { ctx }),
    reserve: (arg, ctx) => store.reserve(arg, { ctx }),
  });
  const server = new RpcServer({
    dispatch: createServiceDispatch({ codec: msgpackCodec, services: [gateway], logger: opts.logger ?? silentLogger }),
  });
  const bound = await server.listen(wsTransport({ tls: opts.tls }), { host: '127.0.0.1', port: 0 });
  return {
    port: 'port' in bound ? bound.port : 0,
    pool,
    async close() {
      await server.close();
      await watch.close();
      await pool.close();
    },
  };
}
