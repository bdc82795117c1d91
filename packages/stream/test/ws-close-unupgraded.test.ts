import net from 'node:net';
import tls from 'node:tls';
import type { Transport } from '@skein/core';
import { wsTransport, type WsTransportOptions } from '@skein/transport-ws';
import { deferred, portOf, suiteCerts, testTls, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { readU32, u32 } from './harness.js';

/*
 * Found by an audit: the ws server hands RpcServer a connection at TCP accept, before its
 * upgrade, and the end a graceful close() gives each connection was held until the upgrade, so
 * close() waited upgradeTimeoutMs (10 s by default) for a client that connected and sent
 * nothing, or half its upgrade request (the TCP transport closes such a connection at once). Now
 * the end drops it (no call can have been read on it), over ws and wss, while an upgraded
 * client's call in flight is still answered. upgradeTimeoutMs (and the TLS handshake's) is ten
 * minutes here: only the server's close can close the stalled sockets.
 */

const certs = suiteCerts();
const { serverTls, clientTls } = testTls(certs);
const cleanup = cleanups();

const HANG_MS = 10_000;
const NEVER_MS = 10 * 60_000;
const HALF_REQUEST = 'GET /skein HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n';

/** A client socket's 'close', whoever closed it (in an object: a promise resolved with a promise waits for it). */
function closeOf(socket: net.Socket): { closed: Promise<void> } {
  socket.on('error', () => {});
  cleanup.push(() => socket.destroy());
  return { closed: new Promise((resolve) => socket.once('close', () => resolve())) };
}

/** TCP connected, not a byte sent (no request on ws, no ClientHello on wss); resolves with its close. */
const silent = (port: number): Promise<{ closed: Promise<void> }> =>
  new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(closeOf(s)));
  });

/** Half an upgrade request (over TLS on wss, the handshake done); resolves with its close. */
const halfRequest = (port: number, secure: boolean): Promise<{ closed: Promise<void> }> =>
  new Promise((resolve) => {
    const sent = (): void => void (s.write(HALF_REQUEST), resolve(closeOf(s)));
    const s: net.Socket = secure ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, sent) : net.connect({ host: '127.0.0.1', port }, sent);
  });

/** `inner`, counting the connections its listeners hand over. */
function counting(inner: Transport, accepted: { count: number }): Transport {
  return { ...inner, listen: (address, spec, accept) => inner.listen(address, spec, (conn) => (accepted.count++, accept(conn))) };
}

const cases: [string, () => WsTransportOptions, () => WsTransportOptions, boolean][] = [
  ['ws', () => ({ upgradeTimeoutMs: NEVER_MS }), () => ({}), false],
  ['wss', () => ({ upgradeTimeoutMs: NEVER_MS, tls: { ...serverTls(), handshakeTimeoutMs: NEVER_MS } }), () => ({ tls: clientTls() }), true],
];

describe('RpcServer.close() over the ws server: connections not upgraded yet', () => {
  for (const [name, serverOptions, clientOptions, secure] of cases) {
    it(`${name}: are dropped as the close begins, while an upgraded client's call in flight is answered`, async () => {
      const started = deferred<void>();
      const release = deferred<void>();
      const server = new RpcServer({
        dispatch: createRouter({ slow: async () => (started.resolve(), await release.promise, u32(7)) }),
        closeWaitMs: 30_000,
      });
      cleanup.push(() => (release.resolve(), server.close()));
      const accepted = { count: 0 };
      const port = portOf(await server.listen(counting(wsTransport(serverOptions()), accepted), '127.0.0.1:0'));
      const stream = await ClientStream.connect({ transport: wsTransport(clientOptions()), address: `127.0.0.1:${port}`, keepaliveMs: 0 });
      cleanup.push(() => stream.destroy());
      const inFlight = stream.call('slow');
      let answered = false;
      void inFlight.then(() => (answered = true), () => {});
      await started.promise;
      const stalled = [await silent(port), await halfRequest(port, secure)];
      await waitFor(() => accepted.count === 3, { what: 'the stalled connections handed to the server' });

      const closing = server.close();
      await within(Promise.all(stalled.map((s) => s.closed)), HANG_MS, 'the unupgraded sockets to be dropped');
      // Dropped while the call still runs: the drain did not wait on them, nor they on it.
      expect(answered).toBe(false);
      release.resolve();
      expect(readU32((await within(inFlight, HANG_MS, 'the call in flight')).msg)).toBe(7);
      await within(closing, HANG_MS, 'the server to close');
    }, 30_000);
  }
});
