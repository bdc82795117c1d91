import { createServiceDispatch, implement } from '@skein/api';
import type { Codec, Logger, TlsOptions } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { RpcServer } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { Calculator, DivideByZero } from './calculator.js';

export const calculator = implement(Calculator, {
  add: ({ a, b }) => a + b,
  div: ({ a, b }) => {
    if (b === 0) throw new DivideByZero();
    return a / b;
  },
  echo: (bytes) => bytes,
});

/** Starts a Calculator server on 127.0.0.1:`port` (0 picks a free port), with TLS when given. */
export async function startServer(port: number, codec: Codec, logger?: Logger, tls?: TlsOptions): Promise<{ server: RpcServer; port: number }> {
  const server = new RpcServer({ dispatch: createServiceDispatch({ codec, services: [calculator], logger }), logger });
  const address = await server.listen(tcpTransport(nodeRuntime, tls === undefined ? {} : { tls }), { host: '127.0.0.1', port });
  return { server, port: 'port' in address ? address.port : port };
}
