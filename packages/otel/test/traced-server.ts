import { createServiceDispatch, type ServiceImpl } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { formatAddress, silentLogger, type Address } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { tracedDispatch, type OtelOptions } from '../src/index.js';

const transport = tcpTransport(nodeRuntime);

/** A server of `services` behind tracedDispatch over TCP, and an untraced client (a peer that names whatever actions it likes). */
export async function startTraced(services: ServiceImpl[], otel: OtelOptions): Promise<{ server: RpcServer; peer: ClientStream }> {
  const server = new RpcServer({ dispatch: tracedDispatch(createServiceDispatch({ codec: msgpackCodec, services, logger: silentLogger }), otel) });
  const address = formatAddress((await server.listen(transport, '127.0.0.1:0')) as Address);
  return { server, peer: await ClientStream.connect({ transport, address }) };
}

export async function stopTraced(s: { server?: RpcServer; peer?: ClientStream }): Promise<void> {
  s.peer?.destroy();
  await s.server?.close();
}
