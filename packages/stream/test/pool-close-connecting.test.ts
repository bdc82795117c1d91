import { describe, expect, it } from 'vitest';
import { ErrorCode, type Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { cleanups, muteServer, suiteCerts, testTls, within, type MuteServer, type MuteServerOptions } from '@skein/test-utils';
import { ClientStream, ConnPool } from '../src/index.js';

/*
 * A pool closed while its connect hangs (a TLS handshake or WebSocket upgrade the server never
 * answers) gives the connect up at once through the transport's abort (TransportConnectOptions.
 * signal), instead of waiting out `connectTimeoutMs` (a minute here, past every bound below),
 * and lets the socket go. Real servers that accept and never answer; no clock decides.
 */
const certs = suiteCerts();
const { clientTls, serverTls } = testTls(certs);
const cleanup = cleanups();

/** Past the bounds the tests wait: a close that waits the connect out fails them. */
const CONNECT_TIMEOUT_MS = 60_000;
const HANG_MS = 10_000;

const hangs: { what: string; server: () => MuteServerOptions; transport: () => Transport }[] = [
  { what: 'a TLS handshake (tls over TCP)', server: () => ({}), transport: () => tcpTransport(nodeRuntime, { tls: clientTls() }) },
  { what: 'a TLS handshake (tls over a Unix socket)', server: () => ({ unix: true }), transport: () => tcpTransport(nodeRuntime, { tls: clientTls() }) },
  { what: 'a WebSocket upgrade (ws)', server: () => ({}), transport: () => wsTransport() },
  { what: 'a WebSocket upgrade (ws over a Unix socket)', server: () => ({ unix: true }), transport: () => wsTransport() },
  { what: 'a TLS handshake (wss)', server: () => ({}), transport: () => wsTransport({ tls: clientTls() }) },
  { what: 'a WebSocket upgrade after the TLS handshake (wss)', server: () => ({ tls: serverTls() }), transport: () => wsTransport({ tls: clientTls() }) },
];

async function hangingPool(mute: MuteServer, transport: Transport): Promise<ConnPool> {
  const pool = new ConnPool({ transport, address: mute.address, connectBudgetMs: CONNECT_TIMEOUT_MS, stream: { connectTimeoutMs: CONNECT_TIMEOUT_MS } });
  cleanup.push(() => pool.destroy());
  return pool;
}

describe('ConnPool.close() while a connect hangs', () => {
  for (const { what, server, transport } of hangs) {
    it(`ends at once, aborting ${what}, fails the waiting call Closed and closes the socket`, async () => {
      const mute = await muteServer(server());
      const pool = await hangingPool(mute, transport());
      const call = pool.call('x').catch((e: unknown) => e);
      await mute.acceptedAtLeast(1);
      await within(pool.close(), HANG_MS, 'the pool to close');
      expect(await call).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
      await mute.allClosed();
      expect(pool.connections).toBe(0);
    });
  }

  it('so does destroy(): its close promise resolves at once too', async () => {
    const mute = await muteServer();
    const pool = await hangingPool(mute, tcpTransport(nodeRuntime, { tls: clientTls() }));
    const call = pool.call('x').catch((e: unknown) => e);
    await mute.acceptedAtLeast(1);
    pool.destroy();
    await within(pool.close(), HANG_MS, 'the pool to close');
    expect(await call).toMatchObject({ code: ErrorCode.Closed });
    await mute.allClosed();
  });
});

describe('ClientStream.connect(opts, signal)', () => {
  it('rejects with Cancelled at the abort, mid-handshake, and closes the socket', async () => {
    const mute = await muteServer();
    const abort = new AbortController();
    const connecting = ClientStream.connect({ transport: tcpTransport(nodeRuntime, { tls: clientTls() }), address: mute.address, connectTimeoutMs: CONNECT_TIMEOUT_MS }, abort.signal).catch((e: unknown) => e);
    await mute.acceptedAtLeast(1);
    const why = new Error('given up');
    abort.abort(why);
    expect(await within(connecting, HANG_MS, 'the connect to fail')).toMatchObject({ code: ErrorCode.Cancelled, cause: why, message: `connect to ${mute.address} aborted` });
    await mute.allClosed();
  });

  it('rejects with Cancelled before dialling when the signal has aborted already', async () => {
    const mute = await muteServer();
    const err = await ClientStream.connect({ transport: tcpTransport(nodeRuntime), address: mute.address }, AbortSignal.abort()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Cancelled });
    // A second connect, not aborted, is the first the server sees.
    const late = ClientStream.connect({ transport: tcpTransport(nodeRuntime), address: mute.address, connectTimeoutMs: 200 }).catch(() => undefined);
    await mute.acceptedAtLeast(1);
    expect(mute.accepted).toBe(1);
    await late;
  });
});
