import { expect, it } from 'vitest';
import { RpcError } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { cleanups } from '@skein/test-utils';

/*
 * A plaintext server at its connection cap closes a new connection before reading or sending
 * anything, exactly as a TLS server closes a plaintext client. The client's error named only
 * TLS ("a TLS server closes a plaintext client so"), so a peer refused at `peers.maxConnections`
 * was told to dial tls:// (found by the peer-mesh example).
 */

const cleanup = cleanups<() => Promise<unknown>>();

it('a client refused at the plaintext server\'s connection cap is told the cap may be why, not only TLS', async () => {
  const server = new RpcServer({ dispatch: createRouter({ 1: (req) => req.msg }), maxConnections: 1 });
  const transport = tcpTransport(nodeRuntime);
  const { port } = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  const first = await ClientStream.connect({ transport, address: `127.0.0.1:${port}` });
  cleanup.push(() => first.close());
  await first.call(1);
  // With credentials, connect() waits for the server: it fails there.
  const err = await ClientStream.connect({ transport, address: `127.0.0.1:${port}`, credentials: 't' }).then(
    (s) => (s.destroy(), undefined),
    (e: unknown) => e as RpcError,
  );
  expect(err).toBeInstanceOf(RpcError);
  const words = `${err!.message} ${(err!.cause as Error | undefined)?.message ?? ''}`;
  expect(words).toMatch(/connection limit/);
});
