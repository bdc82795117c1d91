import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { ErrorCode, type FrameListener, type Transport } from '@skein/core';
import { memoryLogger, suiteCerts, testTls, waitFor, cleanups } from '@skein/test-utils';
import { wsTransport } from '../src/index.js';
import { spec } from './helpers.js';

/**
 * wss as a user between machines meets it: the client checks the server's certificate and
 * name by default, a refusal says why, and a certificate reload that fails changes nothing.
 */
const certs = suiteCerts();

const cleanup = cleanups();

const HANG_MS = 10_000;
const { serverTls, mtls, clientTls } = testTls(certs);

async function listening(transport: Transport, host = '127.0.0.1'): Promise<number> {
  const listener: FrameListener = await transport.listen({ host, port: 0 }, spec, (conn) => conn.bind({ frame() {}, drain() {}, close() {} }));
  cleanup.push(() => listener.close());
  return (listener.address as { port: number }).port;
}

const connecting = (transport: Transport, host: string, port: number): Promise<unknown> =>
  transport.connect({ host, port, tls: true }, spec, { timeoutMs: HANG_MS }).then(
    (conn) => (cleanup.push(() => conn.close()), 'connected'),
    (err: unknown) => err,
  );

/** The subject CN of the certificate a plain node:tls client is served. */
async function servedName(port: number): Promise<string> {
  const sock = tls.connect({ host: '127.0.0.1', port, ...clientTls() });
  cleanup.push(() => sock.destroy());
  await new Promise((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
  return String(sock.getPeerCertificate().subject.CN);
}

describe('wss client: the server is verified by default', () => {
  it('refuses a server whose CA it was not given (no silent rejectUnauthorized: false)', async () => {
    const port = await listening(wsTransport({ tls: serverTls() }));
    expect(await connecting(wsTransport(), '127.0.0.1', port)).toMatchObject({ code: ErrorCode.Unreachable, message: expect.stringMatching(/certificate/i) });
  });

  for (const [name, host] of [['a host name', os.hostname()], ['an IP address', '127.0.0.2']] as const) {
    it(`refuses a trusted server at ${name} its certificate does not carry, saying why`, async () => {
      const port = await listening(wsTransport({ tls: serverTls() }), '0.0.0.0');
      // No servername (clientTls would give localhost): the name checked is the host dialled.
      const err = await connecting(wsTransport({ tls: { ca: certs.ca } }), host, port);
      expect(err).toMatchObject({ code: ErrorCode.Unreachable, message: expect.stringMatching(/altnames|does not match/i) });
      expect(await connecting(wsTransport({ tls: { ca: certs.ca } }), '127.0.0.1', port)).toBe('connected');
    });
  }
});

// docs/tls.md: as on TCP, a refused client certificate is Unauthenticated, never Unreachable
// (which a pool takes for a dead server). Before, the ws server closed without an alert after
// its handshake and the client read `socket hang up` as Unreachable.
describe('wss server: mTLS refusals reach the client typed, saying why', () => {
  for (const [name, pair, reason] of [
    ['no client certificate', undefined, /no client certificate/],
    ['an expired one', 'expired', /CERT_HAS_EXPIRED/],
    ['one from another CA', 'foreign', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/],
    ['a server certificate (not for client auth)', 'server', /INVALID_PURPOSE/],
  ] as const) {
    it(`a client with ${name} fails with Unauthenticated; the server logs why`, async () => {
      const logger = memoryLogger();
      const port = await listening(wsTransport({ tls: mtls(), logger }));
      const err = await connecting(wsTransport({ tls: clientTls(pair && certs[pair]) }), '127.0.0.1', port);
      expect(err).toMatchObject({ code: ErrorCode.Unauthenticated, message: expect.stringMatching(/certificate/i) });
      await waitFor(() => logger.lines.some((l) => l.msg === 'TLS client certificate refused: closing the connection' && reason.test(String(l.obj.reason))), { what: 'the refusal logged with its reason' });
    });
  }

  it('a client that shows a certificate is not misread as refused: a server that does not ask lets it in; no server is Unreachable', async () => {
    const port = await listening(wsTransport({ tls: serverTls() }));
    const client = wsTransport({ tls: clientTls(certs.client) });
    expect(await connecting(client, '127.0.0.1', port)).toBe('connected');
    expect(await connecting(client, '127.0.0.1', 1)).toMatchObject({ code: ErrorCode.Unreachable });
  });
});

// Strangers open as many connections as they like: a line each would be a flood they drive. Each
// kind of refusal is said whole once, then counted (one line per 10 s window, and at close), as an
// RpcServer's own lines of broken connections are.
describe('wss server: refusals at TLS are logged once, then counted', () => {
  it("20 plaintext strangers: one line with the first one's reason, then one counting the other 19 (at close)", async () => {
    const logger = memoryLogger();
    const listener = await wsTransport({ tls: serverTls(), logger }).listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => conn.bind({ frame() {}, drain() {}, close() {} }));
    cleanup.push(() => listener.close());
    const port = (listener.address as { port: number }).port;
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => s.write('GET / HTTP/1.1\r\n\r\n'));
        s.on('error', () => {}).on('close', () => resolve());
      });
    }
    await listener.close();
    const lines = logger.lines.filter((l) => String(l.msg).startsWith('TLS handshake failed'));
    expect(lines.map((l) => l.msg)).toEqual(['TLS handshake failed: closing the connection', 'TLS handshake failed: 19 more connections since the last line']);
    expect(lines[0]!.obj).toMatchObject({ remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/), reason: expect.stringMatching(/^TLS handshake failed: /) });
    expect(lines[1]!.obj).toEqual({ kind: 'TLS handshake failed', connections: 19 });
  });
});

describe('wss server: certificates that do not load', () => {
  it('a key that is not the certificate\'s: listen fails with InvalidArgument before anything is bound', async () => {
    const err = await wsTransport({ tls: { cert: certs.server.cert, key: certs.client.key } }).listen({ host: '127.0.0.1', port: 0 }, spec, () => {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/^tls: cannot use the certificate, key or CA given: /) });
  });

  it('reloadTls with one fails with InvalidArgument, and the listener goes on serving its certificate', async () => {
    const transport = wsTransport({ tls: serverTls() });
    const port = await listening(transport);
    for (const bad of [{ cert: certs.client.cert }, { cert: 'not PEM', key: 'not PEM' }, { ca: 'not PEM' }]) {
      const err = await transport.reloadTls(bad).then(() => undefined, (e: unknown) => e as Error);
      expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/^tls: cannot use the certificate, key or CA given: /) });
      // It says why, never with the key it could not use.
      expect(err?.message).not.toContain(certs.server.key.split('\n')[1]!);
      expect(await servedName(port)).toBe('localhost');
    }
    await transport.reloadTls(certs.reloaded);
    expect(await servedName(port)).toBe('reloaded');
  });
});
