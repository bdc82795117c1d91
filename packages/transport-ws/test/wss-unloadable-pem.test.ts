import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError, type FrameListener, type TlsOptions, type Transport } from '@skein/core';
import { cleanups, suiteCerts, testTls, within } from '@skein/test-utils';
import { uwsTransport, wsTransport } from '../src/index.js';
import { spec } from './helpers.js';

const certs = suiteCerts();
const { serverTls, clientTls } = testTls(certs);
const cleanup = cleanups();

const HANG_MS = 10_000;

/** What a listen did: the InvalidArgument's message, or what else it was. */
async function listenWith(transport: Transport): Promise<string> {
  const listener = await transport.listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => conn.close()).catch((e: unknown) => e);
  if (!(listener instanceof Error)) return (cleanup.push(() => (listener as FrameListener).close()), 'listened');
  return RpcError.is(listener, ErrorCode.InvalidArgument) ? listener.message : `not InvalidArgument: ${listener}`;
}

/**
 * A certificate and key the ws server, uWS and the ws client cannot use are InvalidArgument
 * before anything is bound or dialled, as on TCP (docs/tls.md): uWS's SSLApp said only "App
 * construction failed" (an untyped Error), the ws client failed its handshake (Unreachable), and
 * the ws server came up with an empty certificate and refused every handshake.
 */
describe('wss: certificates and keys that cannot load', () => {
  const mismatched = (): TlsOptions => serverTls({ key: certs.client.key });
  it.each<[string, (tls: TlsOptions) => Transport]>([
    ['the ws server', (tls) => wsTransport({ tls })],
    ['uWebSockets.js', (tls) => uwsTransport({ tls })],
  ])('%s: a key that is not the certificate\'s, and an empty certificate, are InvalidArgument at listen', async (_name, make) => {
    expect(await listenWith(make(mismatched()))).toMatch(/^tls: cannot use the certificate, key or CA given: .*key values mismatch/);
    expect(await listenWith(make({ cert: '', key: '' }))).toMatch(/tls\.cert is empty/);
  });

  it('the ws client: a client key that is not its certificate\'s is InvalidArgument, and nothing is dialled', async () => {
    let dialled = 0;
    const server = net.createServer((s) => (dialled++, s.destroy()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as net.AddressInfo).port;
    const transport = wsTransport({ tls: clientTls({ cert: certs.client.cert, key: certs.server.key }) });
    // Twice: the pair is loaded once per transport's options when it loads, and a refusal is no load.
    for (let i = 0; i < 2; i++) {
      const err = await transport.connect({ host: '127.0.0.1', port, tls: true }, spec, { timeoutMs: HANG_MS }).catch((e: unknown) => e);
      expect(RpcError.is(err, ErrorCode.InvalidArgument) && err.message).toMatch(/key values mismatch/);
    }
    expect(dialled).toBe(0);
  });

  it('the ws server: reloadTls with an empty certificate is refused, and later connections still get the one it had', async () => {
    const transport = wsTransport({ tls: serverTls() });
    const listener = await transport.listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => conn.bind({ frame() {}, drain() {}, close() {} }));
    cleanup.push(() => listener.close());
    const err = await transport.reloadTls({ cert: '', key: '' }).catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.InvalidArgument) && err.message).toMatch(/tls\.cert is empty/);
    const sock = tls.connect({ host: '127.0.0.1', port: (listener.address as { port: number }).port, ...clientTls() });
    cleanup.push(() => sock.destroy());
    await within(new Promise((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject)), HANG_MS, 'the TLS handshake');
    expect(sock.getPeerCertificate().subject.CN).toBe('localhost');
  });
});
