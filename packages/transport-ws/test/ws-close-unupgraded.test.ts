import net from 'node:net';
import tls from 'node:tls';
import type { Transport } from '@skein/core';
import { deferred, suiteCerts, testTls, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { wsTransport } from '../src/index.js';
import { frame, rawClient, startServer, text, until, type Recorder } from './helpers.js';

/*
 * The ws server hands a connection over at TCP accept, before its upgrade. Found by an audit: a
 * server that ended such a connection (as RpcServer's graceful close does) only had the end
 * held until the upgrade, so the connection stayed open until upgradeTimeoutMs (10 s by
 * default) for a client that connected and sent nothing, or half its upgrade request. Now an end
 * before the upgrade drops it at once, over ws and wss (no call can have been read on it), and
 * an upgraded connection's end is still the in-band one, so what it has in flight goes on.
 * upgradeTimeoutMs (and the TLS handshake's) is ten minutes here: only the end can close them.
 */

const certs = suiteCerts();
const { serverTls } = testTls(certs);
const cleanup = cleanups();

const HANG_MS = 10_000;
const NEVER_MS = 10 * 60_000;
const HALF_REQUEST = 'GET /skein HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n';

/** A client socket, and its 'close' (whoever closed it). */
interface Stalled {
  socket: net.Socket;
  closed: Promise<void>;
}

function stalledOn(socket: net.Socket): Stalled {
  socket.on('error', () => {});
  cleanup.push(() => socket.destroy());
  return { socket, closed: new Promise((resolve) => socket.once('close', () => resolve())) };
}

/** TCP connected, not a byte sent (no request on ws, no ClientHello on wss). */
const silent = (port: number): Promise<Stalled> =>
  new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(stalledOn(s)));
  });

/** Half an upgrade request, over TLS on wss (the handshake done). */
const halfRequest = (port: number, secure: boolean): Promise<Stalled> =>
  new Promise((resolve) => {
    const sent = (): void => void (s.write(HALF_REQUEST), resolve(stalledOn(s)));
    const s: net.Socket = secure ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, sent) : net.connect({ host: '127.0.0.1', port }, sent);
  });

const cases: [string, () => Transport, boolean][] = [
  ['ws', () => wsTransport({ upgradeTimeoutMs: NEVER_MS }), false],
  ['wss', () => wsTransport({ upgradeTimeoutMs: NEVER_MS, tls: { ...serverTls(), handshakeTimeoutMs: NEVER_MS } }), true],
];

describe('ws server: a connection ended before its upgrade', () => {
  for (const [name, transport, secure] of cases) {
    it(`${name}: is dropped at once, silent or halfway through its request, and reports its close`, async () => {
      const s = await startServer(transport());
      cleanup.push(() => s.listener.close());
      const stalled = [await silent(s.port), await halfRequest(s.port, secure)];
      await until(() => s.accepted.length === 2, 'both connections handed over');
      await s.listener.close();
      for (const r of s.accepted) r.conn.end();
      await within(Promise.all(stalled.map((x) => x.closed)), HANG_MS, 'the unupgraded sockets to be dropped');
      // Dropped cleanly: a close, no error, for the server's handlers.
      expect(await within(Promise.all(s.accepted.map((r) => r.closed.promise)), HANG_MS, 'the connections to report their close')).toEqual([undefined, undefined]);
    });
  }

  it('ws: one whose upgrade hook is still deciding is dropped, and not served once the hook accepts', async () => {
    const asked = deferred<void>();
    const verdict = deferred<boolean>();
    const s = await startServer(wsTransport({ upgradeTimeoutMs: NEVER_MS, upgrade: () => (asked.resolve(), verdict.promise) }));
    cleanup.push(() => (verdict.resolve(false), s.listener.close()));
    const received: Buffer[] = [];
    const c = await new Promise<Stalled>((resolve) => {
      const sock = net.connect({ host: '127.0.0.1', port: s.port }, () => {
        sock.write(`${HALF_REQUEST}Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
        resolve(stalledOn(sock));
      });
      sock.on('data', (b: Buffer) => received.push(b));
    });
    await within(asked.promise, HANG_MS, 'the upgrade hook asked');
    s.accepted[0]!.conn.end();
    await within(c.closed, HANG_MS, 'the socket mid-upgrade to be dropped');
    verdict.resolve(true);
    expect(await within(s.accepted[0]!.closed.promise, HANG_MS, 'its close reported')).toBeUndefined();
    // Never answered 101: the upgrade the hook let through came too late.
    expect(Buffer.concat(received).toString('latin1')).not.toContain('101');
  });

  it('ws: an upgraded connection is left to drain: its call in flight is answered, then its end goes', async () => {
    const s = await startServer(wsTransport({ upgradeTimeoutMs: NEVER_MS }));
    cleanup.push(() => s.listener.close());
    const peer = await rawClient(s.url());
    cleanup.push(() => peer.ws.terminate());
    const stalled = await silent(s.port);
    await until(() => s.accepted.length === 2, 'both connections handed over');
    const [upgraded, early] = s.accepted as [Recorder, Recorder];
    peer.ws.send(frame('in flight'));
    await until(() => upgraded.bodies.length === 1, 'the call read');
    await s.listener.close();
    early.conn.end();
    await within(stalled.closed, HANG_MS, 'the unupgraded socket to be dropped');
    // The call is answered, then the connection ends, as a draining server does.
    upgraded.conn.write(frame('answer'));
    upgraded.conn.end();
    await until(() => peer.messages.length === 2, 'the answer and the end marker');
    expect(text(peer.messages[0]!.subarray(4))).toBe('answer');
    expect(peer.messages[1]!.length).toBe(0);
    expect(upgraded.isClosed).toBe(false);
  });
});
