export { memoryLogger } from '@skein/test-utils';
import type { Codec } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer, type Dispatch } from '@skein/stream';
import { portOf } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { createServiceDispatch, type ServiceDispatchOptions } from '../src/index.js';

export const transport = tcpTransport(nodeRuntime);


/** Serves `services` on a fresh server and connects one ClientStream to it. */
export async function serve(opts: ServiceDispatchOptions & { codec: Codec }) {
  const server = new RpcServer({ dispatch: createServiceDispatch(opts) });
  const a = await server.listen(transport, '127.0.0.1:0');
  const address = `127.0.0.1:${portOf(a)}`;
  const stream = await ClientStream.connect({ transport, address, tickMs: 100 });
  return {
    server,
    stream,
    address,
    async close() {
      stream.destroy();
      await server.close();
    },
  };
}

/**
 * Listens `server` on a free local port, its close pushed to `cleanup`; each `connect()` opens a
 * ClientStream to it, destroyed with `cleanup` too.
 */
export async function listening(server: RpcServer, cleanup: (() => unknown)[]) {
  const a = await server.listen(transport, '127.0.0.1:0');
  const address = `127.0.0.1:${portOf(a)}`;
  cleanup.push(() => server.close());
  const connect = async () => {
    const stream = await ClientStream.connect({ transport, address, tickMs: 100 });
    cleanup.push(() => stream.destroy());
    return stream;
  };
  return { address, connect };
}

/**
 * Listens `server` on a free local port and connects one ClientStream to it that serves `serve`
 * (calls both ways: the server's handlers call it through `ctx.caller`), keepalive off; both
 * closed with `cleanup`.
 */
export async function servingClient(server: RpcServer, serve: Dispatch, cleanup: (() => unknown)[]): Promise<ClientStream> {
  cleanup.push(() => server.close());
  const a = await server.listen(transport, '127.0.0.1:0');
  const peer = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}`, keepaliveMs: 0, serve });
  cleanup.push(() => peer.destroy());
  return peer;
}
