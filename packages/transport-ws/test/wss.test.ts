import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError, type FrameConn, type FrameListener, type PeerIdentity, type Transport } from '@skein/core';
import { deferred, suiteCerts, memoryLogger, testTls, waitFor, within, cleanups } from '@skein/test-utils';
import net from 'node:net';
import { uwsTransport, wsTransport } from '../src/index.js';
import { frame, record, spec, text } from './helpers.js';

const certs = suiteCerts();

const cleanup = cleanups();

const HANG_MS = 10_000;
const { serverTls, mtls, clientTls } = testTls(certs);

/**
 * An echo server on `transport`; records the identity of each connection and every frame it got.
 * The ws server hands a connection over at TCP accept, before its TLS handshake: its identity is
 * known by its first frame.
 */
async function echo(transport: Transport) {
  const seen: { identity: PeerIdentity | undefined; frames: number }[] = [];
  const listener: FrameListener = await transport.listen({ host: '127.0.0.1', port: 0 }, spec, (conn: FrameConn) => {
    const entry: { identity: PeerIdentity | undefined; frames: number } = { identity: undefined, frames: 0 };
    seen.push(entry);
    conn.bind({
      frame: (bytes, start, end) => {
        entry.identity ??= conn.identity;
        entry.frames++;
        conn.write(bytes.subarray(start, end));
      },
      drain() {},
      close() {},
    });
  });
  cleanup.push(() => listener.close());
  return { port: (listener.address as { port: number }).port, seen };
}

async function roundTrip(transport: Transport, address: string | { host: string; port: number; tls?: boolean; urlPath?: string }): Promise<string> {
  const a = typeof address === 'string' ? (await import('@skein/core')).parseAddress(address) : address;
  const conn = await transport.connect(a, spec, { timeoutMs: HANG_MS });
  cleanup.push(() => conn.close());
  const got = new Promise<string>((resolve) => {
    const r = record(conn, { frame: (body) => resolve(text(body)) });
    void r.closed.promise.then((err) => resolve(`closed: ${err?.message}`));
  });
  conn.write(frame('hello'));
  conn.flush();
  return within(got, HANG_MS, 'the echo');
}

describe('wss: the ws server over https, the ws client with tls', () => {
  it('a wss:// address carries frames over TLS, with the path from the address', async () => {
    const server = await echo(wsTransport({ tls: serverTls(), path: '/rpc' }));
    const client = wsTransport({ tls: clientTls() });
    expect(await roundTrip(client, `wss://127.0.0.1:${server.port}/rpc`)).toBe('hello');
  });

  it('mTLS: the accepted connection carries the verified client identity', async () => {
    const server = await echo(wsTransport({ tls: mtls() }));
    const client = wsTransport({ tls: clientTls(certs.client) });
    expect(await roundTrip(client, { host: '127.0.0.1', port: server.port })).toBe('hello');
    expect(server.seen[0]?.identity).toMatchObject({ subject: 'CN=test-client', altNames: ['URI:spiffe://skein.test/client', 'DNS:client.skein.test'] });
  });

  for (const [name, pair] of [['no client certificate', undefined], ['an expired one', 'expired'], ['one from another CA', 'foreign']] as const) {
    it(`mTLS refuses ${name} before the upgrade, with a log line and a failed connect`, async () => {
      const logger = memoryLogger();
      const server = await echo(wsTransport({ tls: mtls(), logger }));
      const client = wsTransport({ tls: clientTls(pair && certs[pair]) });
      const err = await client.connect({ host: '127.0.0.1', port: server.port }, spec, { timeoutMs: HANG_MS }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RpcError);
      // Handed over at TCP accept (it counts against a server's cap), it delivered nothing.
      expect(server.seen.map((s) => s.frames)).toEqual([0]);
      await waitFor(() => logger.lines.some((l) => /TLS/.test(l.msg ?? '')), { what: 'the refusal logged' });
      // Naming the client an operator would look for: its address and port, as every other line does.
      const line = logger.lines.find((l) => /TLS/.test(l.msg ?? ''))!;
      expect(line.obj.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    });
  }

  it.each([
    ['mTLS', mtls, true],
    ['TLS', serverTls, false],
  ] as const)('%s: a peer that leaves before its handshake is gone at once, not at upgradeTimeoutMs; identityPending says whether a certificate may come', async (_name, tlsOf, pending) => {
    const tls = tlsOf();
    const closed = deferred<void>();
    let identityPending: boolean | undefined;
    // An upgrade bound longer than the test: only seeing the peer go can close the connection.
    const listener = await wsTransport({ tls, upgradeTimeoutMs: 600_000 }).listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => {
      identityPending = conn.identityPending;
      conn.bind({ frame() {}, drain() {}, close: () => closed.resolve() });
    });
    cleanup.push(() => listener.close());
    const raw = net.connect({ host: '127.0.0.1', port: (listener.address as { port: number }).port });
    raw.on('error', () => {});
    raw.once('connect', () => raw.destroy());
    await within(closed.promise, HANG_MS, 'the server side of a peer gone before its handshake to close');
    expect(identityPending).toBe(pending);
  });

  it.each([
    ['mTLS reloaded with requestCert: false', mtls, true],
    ['TLS reloaded with requestCert: true', serverTls, false],
  ] as const)('%s: identityPending still says what the listener asks for (a reload changes certificates, never requestCert)', async (_name, tlsOf, pending) => {
    const tls = tlsOf();
    const seen: (boolean | undefined)[] = [];
    const transport = wsTransport({ tls, upgradeTimeoutMs: 600_000 });
    const listener = await transport.listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => {
      seen.push(conn.identityPending);
      conn.bind({ frame() {}, drain() {}, close() {} });
    });
    cleanup.push(() => listener.close());
    await transport.reloadTls({ ...tls, requestCert: !pending });
    const raw = net.connect({ host: '127.0.0.1', port: (listener.address as { port: number }).port });
    raw.on('error', () => {});
    cleanup.push(() => raw.destroy());
    await waitFor(() => seen.length === 1, { what: 'the connection to be accepted' });
    expect(seen).toEqual([pending]);
  });

  it('a plaintext ws client on a wss server, and a wss client on a plaintext one, fail fast', async () => {
    const tlsServer = await echo(wsTransport({ tls: serverTls() }));
    const plain = await wsTransport().connect({ host: '127.0.0.1', port: tlsServer.port }, spec, { timeoutMs: HANG_MS }).catch((e: unknown) => e);
    expect(plain).toMatchObject({ code: ErrorCode.Unreachable });
    const plainServer = await echo(wsTransport());
    const secure = await wsTransport({ tls: clientTls() }).connect({ host: '127.0.0.1', port: plainServer.port }, spec, { timeoutMs: HANG_MS }).catch((e: unknown) => e);
    expect(secure).toMatchObject({ code: ErrorCode.Unreachable });
  });

  it('reloadTls serves a new certificate to later connections', async () => {
    const transport = wsTransport({ tls: serverTls() });
    const server = await echo(transport);
    await transport.reloadTls(certs.reloaded);
    const tls = await import('node:tls');
    const sock = tls.connect({ host: '127.0.0.1', port: server.port, ...clientTls() });
    cleanup.push(() => sock.destroy());
    await new Promise((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
    expect(sock.getPeerCertificate().subject.CN).toBe('reloaded');
  });
});

describe('wss on uWebSockets.js (SSLApp)', () => {
  it('carries frames over TLS', async () => {
    const server = await echo(uwsTransport({ tls: serverTls() }));
    expect(await roundTrip(wsTransport({ tls: clientTls() }), `wss://127.0.0.1:${server.port}/skein`)).toBe('hello');
  });

  it('refuses requestCert with InvalidArgument: uWS can ask for a client certificate but not require one', async () => {
    const err = await uwsTransport({ tls: mtls() }).listen({ host: '127.0.0.1', port: 0 }, spec, () => {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/requestCert/) });
  });

  it('cannot change its certificate while listening: reloadTls says so', async () => {
    const transport = uwsTransport({ tls: serverTls() });
    await echo(transport);
    await expect(transport.reloadTls(certs.reloaded)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: 'reloadTls: the uws server cannot change its certificate while listening' });
  });
});
