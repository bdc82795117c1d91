import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError, type FrameListener, type TlsOptions } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { cleanups, encryptedKeyOf, suiteCerts, testTls } from '@skein/test-utils';
import { tcpTransport } from '../src/index.js';
import { spec } from './spec.js';

const certs = suiteCerts();
const { serverTls, clientTls } = testTls(certs);
const cleanup = cleanups();

const HANG_MS = 10_000;

/** What a listen with `tls` did: the InvalidArgument's message, or 'listened'. */
async function listenWith(tls: TlsOptions): Promise<string> {
  const listener = await tcpTransport(nodeRuntime, { tls }).listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => conn.close()).catch((e: unknown) => e);
  if (!(listener instanceof Error)) return (cleanup.push(() => (listener as FrameListener).close()), 'listened');
  return RpcError.is(listener, ErrorCode.InvalidArgument) ? listener.message : `not InvalidArgument: ${listener}`;
}

/**
 * Certificates as operators get them wrong: OpenSSL loads an empty certificate and key as none,
 * so the listener came up and refused every handshake, and a reloadTls fed a file read while
 * cert-manager rewrote it broke every later connection; a path or an encrypted key was "no start
 * line" or "bad decrypt". Each is InvalidArgument naming the option, before anything is bound.
 */
describe('TLS certificates and keys that cannot load', () => {
  it.each<[string, () => TlsOptions, RegExp]>([
    ['an empty certificate and key', () => ({ cert: '', key: '' }), /tls\.cert is empty/],
    ['the certificate file\'s path', () => serverTls({ cert: path.join(certs.dir, 'server.crt') }), /tls\.cert holds no PEM block .*: it looks like a file path; give the file's contents/],
    ['the key file\'s path', () => serverTls({ key: path.join(certs.dir, 'server.key') }), /tls\.key holds no PEM block .*: it looks like a file path/],
    ['a key encrypted with a passphrase (openssl pkey -aes256)', () => serverTls({ key: encryptedKeyOf(certs, 'server') }), /tls\.key is encrypted with a passphrase, which Skein does not take/],
    ['a traditional encrypted key (openssl ec -aes256)', () => serverTls({ key: encryptedKeyOf(certs, 'server', true) }), /tls\.key is encrypted with a passphrase/],
  ])('%s: InvalidArgument at listen, naming the option', async (_name, tls, why) => {
    expect(await listenWith(tls())).toMatch(why);
  });

  it('a client certificate given by its path is InvalidArgument at connect, before dialling', async () => {
    const err = await tcpTransport(nodeRuntime, { tls: clientTls({ cert: path.join(certs.dir, 'client.crt'), key: certs.client.key }) })
      .connect({ host: '127.0.0.1', port: 1, tls: true }, spec, { timeoutMs: HANG_MS })
      .catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.InvalidArgument) && err.message).toMatch(/tls\.cert holds no PEM block .*: it looks like a file path/);
  });

  it('reloadTls with an empty certificate and key (a file caught mid-write) is refused; the listener keeps serving its certificate', async () => {
    const transport = tcpTransport(nodeRuntime, { tls: serverTls() });
    const listener = await transport.listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => conn.bind({ frame() {}, drain() {}, close() {} }));
    cleanup.push(() => listener.close());
    const err = await transport.reloadTls({ cert: '', key: '' }).catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.InvalidArgument) && err.message).toMatch(/tls\.cert is empty/);
    const conn = await tcpTransport(nodeRuntime, { tls: clientTls() }).connect(listener.address, spec, { timeoutMs: HANG_MS });
    cleanup.push(() => conn.close());
    expect(conn.identity?.subject).toBe('CN=localhost');
  });
});
