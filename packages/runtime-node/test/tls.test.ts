import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError, type TlsOptions } from '@skein/core';
import { caBundle, damagedInside, damagedPems, suiteCerts, testTls, tmpSocketPath, waitFor, within, cleanups } from '@skein/test-utils';
import { nodeRuntime } from '../src/index.js';
import { bytes, listenQueue, record } from './recorder.js';

const certs = suiteCerts();

const cleanup = cleanups();

const LOCAL = { host: '127.0.0.1', port: 0 };
/** A hang guard only: what is awaited under it either happens or the test fails. */
const HANG_MS = 10_000;
const { serverTls, mtls, clientTls } = testTls(certs);

async function tlsQueue(tls: TlsOptions) {
  const q = await listenQueue(LOCAL, { tls });
  cleanup.push(() => q.listener.close());
  return q;
}

/** A client of a server made with `serverOptions`, and the server's side of it, after a ping and a pong. */
async function pingPong(serverOptions: TlsOptions) {
  const q = await tlsQueue(serverOptions);
  const client = record(await nodeRuntime.connect(q.listener.address, { tls: clientTls() }));
  const server = record(await q.next());
  client.conn.write([bytes('ping')]);
  await server.receives('ping');
  server.conn.write([bytes('pong')]);
  await client.receives('pong');
  return { client, server };
}

const fingerprint = (pem: string): string =>
  execFileSync('/usr/bin/openssl', ['x509', '-noout', '-fingerprint', '-sha256'], { input: pem }).toString().trim().split('=')[1]!;

describe('TLS on node:tls', () => {
  it('carries bytes both ways; the client sees the server verified, the server sees no identity without requestCert', async () => {
    const { client, server } = await pingPong(serverTls());
    expect(client.conn.identity).toMatchObject({ subject: 'CN=localhost', altNames: ['DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1'] });
    expect(server.conn.identity).toBeUndefined();
    client.conn.close();
  });

  it('runs on a Unix socket too (the server name is then given, as there is no host)', async () => {
    const path = tmpSocketPath('tls');
    const q = await listenQueue({ path }, { tls: serverTls() });
    cleanup.push(() => q.listener.close());
    const client = record(await nodeRuntime.connect({ path }, { tls: clientTls() }));
    const server = record(await q.next());
    client.conn.write([bytes('over unix')]);
    await server.receives('over unix');
    expect(client.conn.identity?.subject).toBe('CN=localhost');
    client.conn.close();
  });

  it('mTLS: the server sees the verified client identity (subject, SANs, fingerprint)', async () => {
    const q = await tlsQueue(mtls());
    const client = record(await nodeRuntime.connect(q.listener.address, { tls: clientTls(certs.client) }));
    const server = record(await q.next());
    client.conn.write([bytes('hi')]);
    await server.receives('hi');
    expect(server.conn.identity).toEqual({
      subject: 'CN=test-client',
      altNames: ['URI:spiffe://skein.test/client', 'DNS:client.skein.test'],
      fingerprint256: fingerprint(certs.client.cert),
    });
    client.conn.close();
  });

  for (const [name, cert] of [
    ['no client certificate', undefined],
    ['an expired client certificate', 'expired'],
    ['a client certificate from another CA', 'foreign'],
    // From the same CA, but for serverAuth only: no client's identity.
    ['a server certificate (not for client auth)', 'server'],
  ] as const) {
    it(`mTLS refuses ${name} before a byte of it is delivered, with a reason on both sides`, async () => {
      const q = await tlsQueue(mtls());
      const pair = cert === undefined ? {} : certs[cert];
      // TLS 1.3 lets the client finish its handshake before the server has checked its
      // certificate: the refusal then arrives as the close of a connection that is up.
      const outcome = await nodeRuntime.connect(q.listener.address, { tls: clientTls(pair) }).then(
        async (conn) => {
          const rec = record(conn);
          conn.write([bytes('let me in')]);
          return rec.closed;
        },
        (err: unknown) => err,
      );
      const server = record(await q.next());
      const serverErr = await server.closed;
      expect(server.chunks).toEqual([]);
      expect(serverErr?.message).toMatch(cert === undefined ? /certificate/i : /TLS client certificate refused: (CERT_HAS_EXPIRED|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|INVALID_PURPOSE)/);
      expect(outcome).toBeInstanceOf(RpcError);
      expect(outcome).toMatchObject({ code: ErrorCode.Unauthenticated, message: expect.stringMatching(/refused|certificate/) });
    });
  }

  it("a client that does not trust the server's CA fails to connect with Unreachable, saying why", async () => {
    const q = await tlsQueue(serverTls());
    const err = await nodeRuntime.connect(q.listener.address, { tls: clientTls({ ca: certs.foreignCa }) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.Unreachable, message: expect.stringMatching(/TLS handshake .* failed: .*(self.signed|unable to verify|issuer)/i) });
  });

  it('checks the server name by default: a host name or IP address not on the certificate is refused; SNI names hosts only', async () => {
    const sni: (string | false)[] = [];
    const server = tls.createServer(serverTls(), (sock) => (sni.push((sock as tls.TLSSocket & { servername?: string | false }).servername ?? false), sock.on('error', () => {})));
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    cleanup.push(() => server.close());
    const { port } = server.address() as net.AddressInfo;
    for (const host of [os.hostname(), '127.0.0.2']) {
      const err = await nodeRuntime.connect({ host, port }, { tls: { ca: certs.ca } }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ErrorCode.Unreachable, message: expect.stringMatching(/TLS handshake .* failed: .*altnames/i) });
    }
    for (const host of ['localhost', '127.0.0.1']) {
      const conn = await nodeRuntime.connect({ host, port }, { tls: { ca: certs.ca } });
      cleanup.push(() => conn.close());
    }
    await waitFor(() => sni.length === 2, { what: 'both connections served' });
    expect(sni).toEqual(['localhost', false]);
  });

  it('a client gives up a handshake the server never answers after handshakeTimeoutMs, with Unreachable', async () => {
    const mute = net.createServer((sock) => sock.on('error', () => {}));
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => mute.close());
    const { port } = mute.address() as net.AddressInfo;
    const err = await nodeRuntime.connect({ host: '127.0.0.1', port }, { tls: clientTls({ handshakeTimeoutMs: 100 }) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Unreachable, message: expect.stringMatching(/TLS handshake not done within 100 ms/) });
  });

  // The connect's timeoutMs is one budget for TCP and TLS: it used to stop once TCP was up, leaving
  // only handshakeTimeoutMs (here a minute; the 10 s safety net fails the old code).
  it("a client's connect timeoutMs counts through the handshake, however long handshakeTimeoutMs", async () => {
    const mute = net.createServer((sock) => sock.on('error', () => {}));
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => mute.close());
    const { port } = mute.address() as net.AddressInfo;
    const connecting = nodeRuntime.connect({ host: '127.0.0.1', port }, { timeoutMs: 200, tls: clientTls({ handshakeTimeoutMs: 60_000 }) });
    const err = await within(connecting.catch((e: unknown) => e), 10_000, 'the connect to fail');
    expect(err).toMatchObject({ code: ErrorCode.Unreachable, message: expect.stringMatching(/no connection within 200 ms \(TCP up, TLS handshake not done\)/) });
  });

  // The reason says what went wrong before OpenSSL's words ("ssl3_get_record:http request"),
  // which alone, in a server's log, read as an internal fault.
  it('a plaintext client is closed with a reason and delivers nothing', async () => {
    const q = await tlsQueue(serverTls());
    const client = record(await nodeRuntime.connect(q.listener.address));
    client.conn.write([bytes('GET / HTTP/1.1\r\n\r\n')]);
    const server = record(await q.next());
    const reason = await server.closed;
    expect(reason?.message).toMatch(/^a plaintext \(non-TLS\) client on a TLS listener: .*; the TLS library said: .*(wrong version number|http request|unknown protocol)/i);
    // OpenSSL's code is kept, and the error it came from.
    expect(reason).toMatchObject({ code: expect.stringMatching(/^ERR_SSL_/), cause: expect.any(Error) });
    expect(server.chunks).toEqual([]);
    await client.closed;
  });

  it('a stalled handshake is accepted at once (it counts as a connection) and closed after handshakeTimeoutMs', async () => {
    const q = await tlsQueue(serverTls({ handshakeTimeoutMs: 100 }));
    const { port } = q.listener.address as { port: number };
    const silent = net.connect({ host: '127.0.0.1', port });
    cleanup.push(() => silent.destroy());
    const server = record(await q.next());
    expect((await server.closed)?.message).toBe('TLS handshake not done within 100 ms');
    expect(server.chunks).toEqual([]);
  });

  // The first bytes of a ClientHello record (handshake, TLS 1.0 record version, 512 bytes long), and no more.
  for (const [what, sent] of [['nothing', ''], ['half a ClientHello', '\x16\x03\x01\x02\x00\x01']] as const) {
    it(`a peer that sends ${what} and leaves (FIN) before its handshake is closed then, not held until handshakeTimeoutMs`, async () => {
      const q = await tlsQueue(serverTls({ handshakeTimeoutMs: 600_000 }));
      const { port } = q.listener.address as { port: number };
      const leaving = net.connect({ host: '127.0.0.1', port }, () => leaving.end(sent, 'latin1'));
      leaving.on('error', () => {});
      cleanup.push(() => leaving.destroy());
      const server = record(await q.next());
      // Half-open, it waited out the handshake timeout: its place under a cap held by nobody.
      await within(server.closed, HANG_MS, 'the server side of a peer that left to close');
      expect(server.chunks).toEqual([]);
      expect(server.conn.identity).toBeUndefined();
    });
  }

  it('after the handshake a half-close is still one: the server may answer a peer that ended its side', async () => {
    const q = await tlsQueue(serverTls());
    const client = record(await nodeRuntime.connect(q.listener.address, { tls: clientTls() }));
    const server = record(await q.next(), () => {});
    client.conn.write([bytes('ping')]);
    client.conn.end();
    await server.receives('ping');
    await waitFor(() => server.ends === 1, { what: "the client's half-close reported" });
    // Answered later than the end is reported, as a handler's reply is: a socket not half-open has ended its side by then.
    await new Promise((resolve) => setImmediate(resolve));
    server.conn.write([bytes('pong')]);
    await client.receives('pong');
  });

  it('a handshakeTimeoutMs past the timer limit (2^31-1 ms) does not overflow into closing every connection at once', async () => {
    const { client, server } = await pingPong(serverTls({ handshakeTimeoutMs: 2 ** 32 }));
    client.conn.close();
    expect(await server.closed).toBeUndefined();
  });

  it('reloadTls serves the new certificate to later connections; earlier ones keep working', async () => {
    const q = await tlsQueue(serverTls());
    const before = record(await nodeRuntime.connect(q.listener.address, { tls: clientTls() }));
    const beforeServer = record(await q.next());
    await q.listener.reloadTls!(certs.reloaded);
    const after = record(await nodeRuntime.connect(q.listener.address, { tls: clientTls() }));
    await q.next();
    expect(before.conn.identity?.subject).toBe('CN=localhost');
    expect(after.conn.identity?.subject).toBe('CN=reloaded');
    before.conn.write([bytes('still')]);
    await beforeServer.receives('still');
    before.conn.close();
    after.conn.close();
  });

  it("minVersion 'TLSv1.3' refuses a TLS 1.2 client before a byte of it is delivered", async () => {
    const q = await tlsQueue(serverTls({ minVersion: 'TLSv1.3' }));
    // A TLS 1.3 client is let in...
    const modern = await nodeRuntime.connect(q.listener.address, { tls: clientTls() });
    cleanup.push(() => modern.close());
    // ...a TLS 1.2 one is not.
    const old = tls.connect({ host: '127.0.0.1', port: (q.listener.address as { port: number }).port, ...clientTls(), maxVersion: 'TLSv1.2' });
    const oldFailed = new Promise<string>((resolve) => old.once('error', (e) => resolve(e.message)).once('secureConnect', () => resolve('connected')));
    cleanup.push(() => old.destroy());
    expect(await oldFailed).toMatch(/protocol version|unsupported protocol/i);
    await q.next();
    const server = record(await q.next());
    expect((await server.closed)?.message).toMatch(/unsupported protocol|version/i);
    expect(server.chunks).toEqual([]);
  });

  // An empty CA list is no CA at all to OpenSSL (not the default roots): as with a CA holding no
  // certificate, an mTLS listener would refuse every client and a client every server.
  it('an empty tls.ca list is InvalidArgument, before anything is bound or dialled, as a CA with no certificate is', async () => {
    const code = (p: Promise<unknown>) => p.then((x) => ((x as { close?: () => unknown }).close?.(), 'resolved'), (e: unknown) => (e instanceof RpcError ? e.codeName : String(e)));
    expect(await code(nodeRuntime.listen(LOCAL, () => {}, { tls: serverTls({ ca: [], requestCert: true }) }))).toBe('InvalidArgument');
    const q = await tlsQueue(serverTls());
    expect(await code(nodeRuntime.connect(q.listener.address, { tls: clientTls({ ca: [] }) }))).toBe('InvalidArgument');
    expect(await code(q.listener.reloadTls!({ ca: [] }))).toBe('InvalidArgument');
  });

  // OpenSSL loads a CA up to its first damaged certificate, silently: the listener (or client)
  // then trusts nothing, or less than given, and every handshake fails later, confusingly.
  it('a damaged tls.ca is InvalidArgument naming it and the certificate, at listen, connect and reloadTls', async () => {
    const why = (p: Promise<unknown>) => p.then((x) => ((x as { close?: () => unknown }).close?.(), 'resolved'), (e: unknown) => (RpcError.is(e, ErrorCode.InvalidArgument) ? e.message : String(e)));
    const q = await tlsQueue(mtls());
    for (const { name, pem, block } of damagedPems(certs.ca)) {
      const named = new RegExp(`tls\\.ca: certificate ${block} of ${block} \\(line \\d+\\)`);
      expect(await why(nodeRuntime.listen(LOCAL, () => {}, { tls: serverTls({ ca: pem, requestCert: true }) })), name).toMatch(named);
      expect(await why(nodeRuntime.connect(q.listener.address, { tls: clientTls({ ca: pem, ...certs.client }) })), name).toMatch(named);
      expect(await why(q.listener.reloadTls!({ ca: pem })), name).toMatch(named);
      // One of a list is named by its index.
      expect(await why(nodeRuntime.connect(q.listener.address, { tls: clientTls({ ca: [certs.foreignCa, pem] }) })), name).toMatch(/tls\.ca\[1\]: certificate/);
    }
    // Damage inside a field, which only OpenSSL's parser sees: OpenSSL would load the bundle up to it (foreignCa only).
    const inside = certs.foreignCa + damagedInside(certs.ca) + certs.ca;
    const parsed = /tls\.ca: certificate 2 of 3 \(line \d+\) does not parse as a certificate: .*wrong tag/;
    expect(await why(nodeRuntime.listen(LOCAL, () => {}, { tls: serverTls({ ca: inside, requestCert: true }) }))).toMatch(parsed);
    expect(await why(nodeRuntime.connect(q.listener.address, { tls: clientTls({ ca: inside, ...certs.client }) }))).toMatch(parsed);
    // The listener kept its CA through the refused reloads.
    const client = await nodeRuntime.connect(q.listener.address, { tls: clientTls(certs.client) });
    client.close();
  });

  // `cat a.pem b.pem` of a file without a final newline glues b's BEGIN to a's END line: OpenSSL
  // reads that line as no END, loads neither, silently, and every handshake failed later.
  it('a CA made by concatenating a file without a final newline is InvalidArgument naming the glued END line, at listen and connect', async () => {
    const why = (p: Promise<unknown>) => p.then((x) => ((x as { close?: () => unknown }).close?.(), 'resolved'), (e: unknown) => (RpcError.is(e, ErrorCode.InvalidArgument) ? e.message : String(e)));
    const glued = certs.foreignCa.trimEnd() + certs.ca;
    const named = /tls\.ca: certificate 1 of 2 \(line 1\) is skipped by TLS libraries: its -----END CERTIFICATE----- is not alone on its line/;
    const q = await tlsQueue(mtls());
    expect(await why(nodeRuntime.listen(LOCAL, () => {}, { tls: serverTls({ ca: glued, requestCert: true }) }))).toMatch(named);
    expect(await why(nodeRuntime.connect(q.listener.address, { tls: clientTls({ ca: glued, ...certs.client }) }))).toMatch(named);
    // With the newline the same two certificates load whole: a client of the second is let in.
    const joined = `${certs.foreignCa.trimEnd()}\n${certs.ca}`;
    const client = await nodeRuntime.connect(q.listener.address, { tls: clientTls({ ca: joined, ...certs.client }) });
    client.close();
  });

  it('a CA bundle of several certificates, with comments and blank lines between them, loads whole (a client of its last CA is let in)', async () => {
    const bundle = caBundle([certs.foreignCa, certs.ca]);
    const q = await tlsQueue(serverTls({ ca: bundle, requestCert: true }));
    const client = record(await nodeRuntime.connect(q.listener.address, { tls: clientTls({ ca: bundle, ...certs.client }) }));
    const server = record(await q.next());
    client.conn.write([bytes('bundled')]);
    await server.receives('bundled');
    expect(server.conn.identity?.subject).toBe('CN=test-client');
    client.conn.close();
  });

  it('a damaged client certificate or key is InvalidArgument at connect, not a raw OpenSSL error', async () => {
    const q = await tlsQueue(serverTls());
    const why = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (RpcError.is(e, ErrorCode.InvalidArgument) ? 'InvalidArgument' : String(e)));
    const [notBase64, truncated] = damagedPems(certs.client.cert);
    expect(await why(nodeRuntime.connect(q.listener.address, { tls: clientTls({ cert: notBase64!.pem, key: certs.client.key }) }))).toBe('InvalidArgument');
    expect(await why(nodeRuntime.connect(q.listener.address, { tls: clientTls({ cert: certs.client.cert + truncated!.pem, key: certs.client.key }) }))).toBe('InvalidArgument');
    const key = certs.client.key.replace(/\n[A-Za-z0-9+/]{8}/, '\n!!!!!!!!');
    expect(await why(nodeRuntime.connect(q.listener.address, { tls: clientTls({ cert: certs.client.cert, key }) }))).toBe('InvalidArgument');
    expect(await why(nodeRuntime.connect(q.listener.address, { tls: clientTls({ cert: certs.client.cert, key: certs.server.key }) }))).toBe('InvalidArgument');
  });

  // OpenSSL says only "no start line" (a key as the certificate) or "DECODER routines::unsupported"
  // (a certificate as the key): neither names the option nor what was in it.
  it('a key given as the certificate, or a certificate as the key, is InvalidArgument naming the option and what it holds', async () => {
    const why = (p: Promise<unknown>) => p.then((x) => ((x as { close?: () => unknown }).close?.(), 'resolved'), (e: unknown) => (RpcError.is(e, ErrorCode.InvalidArgument) ? e.message : String(e)));
    const swapped = { cert: certs.server.key, key: certs.server.cert };
    const q = await tlsQueue(serverTls());
    const both = /^tls: cannot use the certificate, key or CA given: tls\.cert holds a PRIVATE KEY, not a CERTIFICATE \(tls\.cert and tls\.key swapped\?\)$/;
    expect(await why(nodeRuntime.listen(LOCAL, () => {}, { tls: swapped }))).toMatch(both);
    expect(await why(nodeRuntime.connect(q.listener.address, { tls: clientTls({ cert: certs.client.key, key: certs.client.cert }) }))).toMatch(both);
    expect(await why(q.listener.reloadTls!(swapped))).toMatch(both);
    const keyAsCert = /tls\.cert holds a PRIVATE KEY, not a CERTIFICATE$/;
    expect(await why(nodeRuntime.listen(LOCAL, () => {}, { tls: { cert: certs.server.key, key: certs.server.key } }))).toMatch(keyAsCert);
    const certAsKey = /tls\.key holds a CERTIFICATE, not a PRIVATE KEY$/;
    expect(await why(nodeRuntime.listen(LOCAL, () => {}, { tls: { cert: certs.server.cert, key: certs.server.cert } }))).toMatch(certAsKey);
    expect(await why(nodeRuntime.connect(q.listener.address, { tls: clientTls({ cert: certs.client.cert, key: certs.client.cert }) }))).toMatch(certAsKey);
    expect(await why(nodeRuntime.connect(q.listener.address, { tls: clientTls({ ca: certs.server.key }) }))).toMatch(/tls\.ca holds no PEM certificate .*: it holds PRIVATE KEY$/);
    // Never the key's contents.
    expect(await why(nodeRuntime.listen(LOCAL, () => {}, { tls: swapped }))).not.toContain(certs.server.key.split('\n')[1]!);
    // The listener kept its certificate through the refused reload.
    const client = await nodeRuntime.connect(q.listener.address, { tls: clientTls() });
    client.close();
  });

  it('configuration mistakes throw InvalidArgument before anything is bound or dialled', async () => {
    const bad = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (RpcError.is(e, ErrorCode.InvalidArgument) ? 'InvalidArgument' : String(e)));
    const noop = () => {};
    expect(await bad(nodeRuntime.listen(LOCAL, noop, { tls: {} }))).toBe('InvalidArgument');
    expect(await bad(nodeRuntime.listen(LOCAL, noop, { tls: serverTls({ requestCert: true }) }))).toBe('InvalidArgument');
    expect(await bad(nodeRuntime.listen(LOCAL, noop, { tls: { cert: certs.server.cert, key: certs.client.key } }))).toBe('InvalidArgument');
    expect(await bad(nodeRuntime.connect({ host: '127.0.0.1', port: 1 }, { tls: { minVersion: 'SSLv3' as 'TLSv1.2' } }))).toBe('InvalidArgument');
    const q = await tlsQueue(serverTls());
    expect(await bad(q.listener.reloadTls!({ cert: certs.client.cert }))).toBe('InvalidArgument');
  });
});
