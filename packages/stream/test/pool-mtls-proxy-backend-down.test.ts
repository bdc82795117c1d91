import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { ManualClock, cleanups, suiteCerts, testTls, waitFor, within } from '@skein/test-utils';
import { ConnPool } from '../src/index.js';
import { countingServer, transport } from './harness.js';

// An mTLS-terminating proxy (TLS 1.3) that accepts the client's certificate, then
// finds its backend down and closes the connection before sending anything. Nothing about the
// certificate: the pool's calls should wait for the backend (a retry heals it), not fail at once
// with Unauthenticated (retry 'never').

const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);
const cleanup = cleanups();

describe('a pool behind an mTLS proxy whose backend is down for a moment', () => {
  it('waits for the backend rather than failing its calls with Unauthenticated', async () => {
    const { port: backend, ran } = await countingServer(transport, cleanup);
    let backendUp = false;
    let closedUnheard = 0;
    const sockets = new Set<net.Socket>();
    const proxy = tls.createServer({ ...mtls({ minVersion: 'TLSv1.3' }), rejectUnauthorized: true }, (client) => {
      sockets.add(client);
      client.on('error', () => {});
      if (!backendUp) {
        closedUnheard++;
        return void client.end();
      }
      const up = net.connect(backend, '127.0.0.1');
      sockets.add(up);
      up.on('error', () => client.destroy());
      client.pipe(up).pipe(client);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => proxy.close(() => r()));
    });
    const port = (proxy.address() as net.AddressInfo).port;

    const clock = new ManualClock();
    const pool = new ConnPool({ transport: tcpTransport(nodeRuntime, { tls: clientTls(certs.client) }), address: `127.0.0.1:${port}`, clock, logger: silentLogger });
    cleanup.push(() => pool.destroy());
    let settled: unknown = 'pending';
    const call = pool.call(1).then(() => (settled = 'ran'), (e: unknown) => (settled = e));
    await waitFor(() => closedUnheard >= 1, { what: 'the proxy closed the first connection' });
    await waitFor(() => pool.state === 'backoff' || settled !== 'pending', { what: 'the pool backing off, or the call settled' });
    expect(settled).toBe('pending');
    backendUp = true;
    // The backoff's next attempt, on the manual clock: stepped until the call settles (a hang guard bounds it).
    for (let i = 0; i < 200 && settled === 'pending'; i++) {
      clock.advance(100);
      await new Promise((r) => setTimeout(r, 5));
    }
    await within(call, 10_000, 'the call once the backend is up');

    expect(ran()).toBe(1);
  });
});
