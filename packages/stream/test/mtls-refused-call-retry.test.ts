import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError, type TlsOptions } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { cleanups, deferred, suiteCerts, testTls, within } from '@skein/test-utils';
import { ClientStream } from '../src/index.js';
import { mtlsServer } from './harness.js';

// Under TLS 1.3 a client's handshake is done before an mTLS server has checked its certificate,
// so a ClientStream's first call goes out on a connection the server then refuses with an alert.
// The call fails with IO caused by the Unauthenticated refusal, and `retry: 'idempotent'` (it may
// have run): the alert cannot say which handshake it ended, and a TLS 1.2 server may renegotiate
// after reading calls and refuse then (mtls-renegotiation-refusal.test.ts). A TLS connection lost
// otherwise keeps 'idempotent' too, even when the client can only guess at a refusal (a reset
// before the server sent anything, from a server that read the call).
// Real TLS 1.3 over real sockets on Node. The call is made in the turn its connect resolved: the
// alert comes only after the server read the client's second flight, in a later read.

const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);
const cleanup = cleanups();
const HANG_MS = 10_000;

/** The first call of a ClientStream made with `tls`, made as its connect resolves: what it failed with. */
async function firstCall(port: number, tlsOptions: TlsOptions): Promise<RpcError> {
  const transport = tcpTransport(nodeRuntime, { tls: tlsOptions });
  const calling = ClientStream.connect({ transport, address: `127.0.0.1:${port}`, connectTimeoutMs: HANG_MS }).then((stream) => {
    cleanup.push(() => stream.destroy());
    return stream.call(1);
  });
  const err = await within(calling.then(() => new Error('answered'), (e: unknown) => e), HANG_MS, 'the first call to fail');
  if (!(err instanceof RpcError)) throw err;
  return err;
}

describe("a ClientStream's first call on a connection an mTLS server refuses under TLS 1.3", () => {
  it("without a client certificate (alert 116, certificate required): fails with IO retry 'idempotent', caused by the Unauthenticated refusal", async () => {
    const s = await mtlsServer(mtls, cleanup);
    const err = await firstCall(s.port, clientTls());
    expect(err).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent', message: expect.stringMatching(/refused the TLS connection: .*alert/) });
    expect(err.message).not.toMatch(/never ran/);
    expect(err.cause).toMatchObject({ code: ErrorCode.Unauthenticated });
    expect(s.ran()).toBe(0);
  });

  it("a TLS connection reset after the server read the call keeps 'idempotent', though the client guesses at a refusal", async () => {
    // A real TLS 1.3 server that takes the client's certificate, reads the call's bytes, and
    // resets the connection without sending a byte: the client presented a certificate and heard
    // nothing, so its runtime reports a possible refusal (Unauthenticated); but the call was read.
    const read = deferred<void>();
    const server = net.createServer((raw) => {
      const socket = new tls.TLSSocket(raw, { ...mtls({ minVersion: 'TLSv1.3' }), isServer: true, rejectUnauthorized: true });
      // The TCP socket under it is what can be reset (a TLS socket's handle cannot).
      socket.once('data', () => (read.resolve(), raw.resetAndDestroy()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as { port: number };
    const err = await firstCall(port, clientTls(certs.client));
    await read.promise;
    expect(err).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent', message: expect.not.stringMatching(/never ran/) });
    expect(err.cause).toMatchObject({ code: ErrorCode.Unauthenticated });
  });
});
