import { createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { formatAddress, type Address } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { RpcServer } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skeinWithin } from './skein-bin.js';


const Echo = service('Echo', { one: method<void, number>() });

/** Calls the server's handler ran before it cut the connections. */
const CUT_AFTER = 20;

let server: RpcServer;
let proxy: net.Server;
const sockets = new Set<net.Socket>();
let handled = 0;

beforeAll(async () => {
  const impl = implement(Echo, {
    one: () => {
      // The connection breaks under the run: every socket the proxy carries is cut.
      if (++handled === CUT_AFTER) for (const s of sockets) s.destroy();
      return 1;
    },
  });
  server = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, services: [impl] }) });
  const upstream = (await server.listen(tcpTransport(nodeRuntime), '127.0.0.1:0')) as Address & { port: number };
  proxy = net.createServer((client) => {
    const up = net.connect(upstream.port, '127.0.0.1');
    sockets.add(client).add(up);
    client.pipe(up).on('error', () => {});
    up.pipe(client).on('error', () => {});
    client.on('error', () => {});
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  proxy?.close();
  await server?.close();
});

describe('skein bench when the connection is lost', () => {
  it('ends the run at once, prints its summary and exits 1', async () => {
    const addr = formatAddress({ host: '127.0.0.1', port: (proxy.address() as net.AddressInfo).port } as Address);
    const r = await skeinWithin(30_000, 'bench', addr, 'Echo.one', '--in-flight', '2', '--duration', '600', '--json');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: the connection to 127\.0\.0\.1:\d+ was lost during the run: (IO|Closed) /);
    const s = JSON.parse(r.stdout);
    // Only the calls out when it broke failed, not a call per turn of a loop for the rest of the run.
    const failed = Object.values(s.errors as Record<string, number>).reduce((n, c) => n + c, 0);
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThanOrEqual(2);
    expect(s.calls).toBeLessThan(CUT_AFTER);
  }, 90_000);
});
