import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { cleanups, deferred, freePort, suiteCerts, testTls, within } from '@skein/test-utils';
import { ClientStream } from '../src/index.js';

// A certificate alert is a refusal that read nothing only when it ends the first handshake. A
// TLS 1.2 server may renegotiate at any time: one that has read a call asks then for the client's
// certificate (OpenSSL's s_server, its `R` command) and refuses it with an alert (unknown CA). The
// call was read, and may have run: it must not fail 'safe'. Real TLS 1.2 over a real socket.

const certs = suiteCerts();
const { clientTls } = testTls(certs);
const cleanup = cleanups();
const HANG_MS = 10_000;
const MARK = 'a-call-the-server-read';

describe('a certificate alert in a renegotiation after the server read a call', () => {
  it("fails the call IO 'idempotent', not 'safe' (the server read it)", async () => {
    const port = await freePort();
    const f = (n: string): string => path.join(certs.dir, n);
    const server = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', f('server.crt'), '-key', f('server.key'), '-CAfile', f('ca.crt'), '-tls1_2', '-alpn', 'skein', '-naccept', '1', '-no_ticket', '-no_cache', '-verify_return_error'], { stdio: ['pipe', 'pipe', 'pipe'] });
    cleanup.push(() => void server.kill());
    const listening = deferred<void>();
    const read = deferred<void>();
    let out = '';
    server.stdin.on('error', () => {});
    server.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (out.includes('ACCEPT')) listening.resolve();
      // The call's bytes, printed as s_server reads them: now it renegotiates, asking for a certificate.
      if (out.includes(MARK)) (out = '', read.resolve(), server.stdin.write('R\n'));
    });
    await within(listening.promise, HANG_MS, 's_server to listen');
    const transport = tcpTransport(nodeRuntime, { tls: clientTls({ ...certs.foreign }) });
    const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${port}`, connectTimeoutMs: HANG_MS });
    cleanup.push(() => stream.destroy());
    const err = await within(stream.call(1, new TextEncoder().encode(MARK)).then(() => new Error('answered'), (e: unknown) => e), HANG_MS, 'the call to fail');
    await read.promise;
    if (!(err instanceof RpcError)) throw err;
    expect(err).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent', message: expect.not.stringMatching(/never ran/) });
  });
});
