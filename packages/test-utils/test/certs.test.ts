import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { signClientCert, suiteCerts, testTls } from '../src/certs.js';
import { cleanups } from '../src/cleanups.js';
import { within } from '../src/wait.js';

const certs = suiteCerts();
const { serverTls, mtls, clientTls } = testTls(certs);
const cleanup = cleanups();

/** A real node:tls server on loopback with `options`; what each connection showed, once its handshake is done. */
async function tlsServer(options: tls.TlsOptions): Promise<{ port: number; seen: () => Promise<{ servername: string | false; subject: string | undefined }> }> {
  let show!: (s: { servername: string | false; subject: string | undefined }) => void;
  const seen = new Promise<{ servername: string | false; subject: string | undefined }>((resolve) => (show = resolve));
  const server = tls.createServer(options, (sock) => {
    const peer = sock.getPeerX509Certificate();
    show({ servername: (sock as tls.TLSSocket & { servername?: string | false }).servername ?? false, subject: peer?.subject });
    sock.end();
  });
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  // A refused handshake never reaches the callback: a hang guard, not a timing.
  return { port: (server.address() as AddressInfo).port, seen: () => within(seen, 10_000, 'a connection past its handshake') };
}

/** Dials 127.0.0.1 with `options`: 'authorized', or the error's code. */
async function dial(port: number, options: tls.ConnectionOptions): Promise<string> {
  const sock = tls.connect({ host: '127.0.0.1', port, ...options });
  cleanup.push(() => sock.destroy());
  return await new Promise<string>((resolve) => {
    sock.once('secureConnect', () => resolve(sock.authorized ? 'authorized' : `unauthorized ${String(sock.authorizationError)}`));
    sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('testTls: options node:tls takes as they are', () => {
  it('clientTls trusts the CA and sends the name localhost to a serverTls server', async () => {
    const s = await tlsServer(serverTls());
    expect(await dial(s.port, clientTls())).toBe('authorized');
    expect(await s.seen()).toEqual({ servername: 'localhost', subject: undefined });
  });

  it('extra goes on top: another CA than the suite\'s is refused', async () => {
    const s = await tlsServer(serverTls());
    expect(await dial(s.port, clientTls({ ca: certs.foreignCa }))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('mtls asks for a client certificate: clientTls(certs.client) is seen as CN=test-client', async () => {
    const s = await tlsServer(mtls());
    expect(await dial(s.port, clientTls(certs.client))).toBe('authorized');
    expect((await s.seen()).subject).toBe('CN=test-client');
  });
});

describe('signClientCert: another client certificate from the suite\'s CA', () => {
  it('is CN=<cn>, issued and signed by certs.ca, for client auth, with its own key', () => {
    const pair = signClientCert(certs, 'second-client');
    const cert = new X509Certificate(pair.cert);
    const ca = new X509Certificate(certs.ca);
    expect(cert.subject).toBe('CN=second-client');
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.2'); // clientAuth
    expect(cert.checkPrivateKey(createPrivateKey(pair.key))).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(certs.client.key))).toBe(false);
  });

  it('an mTLS server that trusts certs.ca takes it, and sees its name', async () => {
    const s = await tlsServer(mtls());
    expect(await dial(s.port, clientTls(signClientCert(certs, 'third-client')))).toBe('authorized');
    expect((await s.seen()).subject).toBe('CN=third-client');
  });
});
