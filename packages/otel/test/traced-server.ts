import { createServiceDispatch, type ServiceImpl } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { formatAddress, silentLogger, type Address, type Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer, type Dispatch, type RpcServerOptions } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { tracedDispatch, type OtelOptions } from '../src/index.js';

const transport = tcpTransport(nodeRuntime);

/**
 * A server of `services` (or of a dispatch of the test's own) behind tracedDispatch over TCP,
 * with `serverOpts`, and an untraced client (a peer that names whatever actions it likes),
 * through `wrap(the TCP transport)` when given (an older client, say).
 */
export async function startTraced(services: ServiceImpl[] | Dispatch, otel: OtelOptions, serverOpts: Partial<RpcServerOptions> = {}, wrap?: (t: Transport) => Transport): Promise<{ server: RpcServer; peer: ClientStream }> {
  const inner = Array.isArray(services) ? createServiceDispatch({ codec: msgpackCodec, services, logger: silentLogger }) : services;
  const server = new RpcServer({ ...serverOpts, dispatch: tracedDispatch(inner, otel) });
  const address = formatAddress((await server.listen(transport, '127.0.0.1:0')) as Address);
  return { server, peer: await ClientStream.connect({ transport: wrap ? wrap(transport) : transport, address }) };
}

export async function stopTraced(s: { server?: RpcServer; peer?: ClientStream }): Promise<void> {
  s.peer?.destroy();
  await s.server?.close();
}
