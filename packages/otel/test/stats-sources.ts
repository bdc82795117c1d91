import { formatAddress, silentLogger, type Address } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ConnPool, createRouter, FailoverPool, RpcServer } from '@skein/stream';
import { deferred } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';

/**
 * What the stats tests read: a server with a call that waits for `gate` ('Slow.wait') and one that
 * answers at once ('Fast.ok'), a ConnPool to it, and a FailoverPool over it and an address where
 * nothing listens. Their closes go on `cleanup`.
 */
export async function statsSources(cleanup: (() => unknown)[]) {
  const transport = tcpTransport(nodeRuntime);
  const gate = deferred<void>();
  const server = new RpcServer({ dispatch: createRouter({ 'Slow.wait': () => gate.promise, 'Fast.ok': () => {} }, silentLogger) });
  const address = formatAddress((await server.listen(transport, '127.0.0.1:0')) as Address);
  cleanup.push(() => server.close());
  const pool = new ConnPool({ transport, address });
  const failover = new FailoverPool({ transport, servers: [address, '127.0.0.1:1'] });
  cleanup.push(() => pool.close(), () => failover.close());
  return { transport, gate, server, address, pool, failover };
}
