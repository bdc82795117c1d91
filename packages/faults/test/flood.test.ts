import { formatAddress, type Address } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer, createRouter } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it } from 'vitest';
import { Flood } from '../src/flood.js';

const transport = tcpTransport(nodeRuntime);
/** Calls made on the lost connection before the flood's calls start to wait a turn each. */
const FAILING = 5000;

describe('Flood', () => {
  it('gives timers a turn after each failed call: a lost connection cannot starve a scenario', async () => {
    const server = new RpcServer({ dispatch: createRouter({ 1: (req) => req.msg }) });
    const address = formatAddress((await server.listen(transport, '127.0.0.1:0')) as Address);
    const control = await ClientStream.connect({ transport, address });
    control.destroy('lost');
    try {
      // Calls on the lost connection fail at once; later ones (only a starved loop gets there first) take a turn each.
      const flood = new Flood((n) => (n < FAILING ? control.call(1) : new Promise((resolve) => setImmediate(resolve))), 2);
      await new Promise((resolve) => setImmediate(resolve));
      const failedBeforeATurn = flood.failed;
      await flood.stop();
      expect(failedBeforeATurn).toBe(2);
      // One kind of failure, the lost connection's, and every call counted.
      expect([...flood.errors.values()]).toEqual([flood.failed]);
    } finally {
      await server.close();
    }
  });
});
