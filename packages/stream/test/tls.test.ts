import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { RpcError, silentLogger, type PeerIdentity, type TlsOptions, type Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { ManualClock, suiteCerts, memoryLogger, testTls, waitFor, within, cleanups } from '@skein/test-utils';
import { ClientStream, ConnPool, RpcServer, createRouter, type RpcServerOptions } from '../src/index.js';

const certs = suiteCerts();

const cleanup = cleanups();

const HANG_MS = 10_000;
const utf8 = new TextEncoder();
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

const { serverTls, mtls, clientTls } = testTls(certs);
/** Trusts the CA and gives no servername: the name checked is the address's (`tls://localhost:…`). */
const byAddress = (extra: TlsOptions = {}): TlsOptions => ({ ca: certs.ca, ...extra });

/** A server whose one action answers with the identity it saw; counts dispatched requests. */
async function serve(tls: TlsOptions | undefined, opts: Partial<RpcServerOptions> = {}) {
  const logger = memoryLogger();
  const seen: (PeerIdentity | undefined)[] = [];
  const router = createRouter({
    1: (req) => {
      seen.push(req.conn.identity);
      return utf8.encode(JSON.stringify(req.conn.identity ?? null));
    },
  });
  const server = new RpcServer({ dispatch: router, logger, ...opts });
  const transport = tcpTransport(nodeRuntime, tls === undefined ? {} : { tls });
  // Counts the connections the transport hands the server, handshake done or not.
  const accepted = { count: 0 };
  const counting: Transport = { ...transport, listen: (address, spec, accept) => transport.listen(address, spec, (conn) => (accepted.count++, accept(conn))) };
  const bound = (await server.listen(counting, '127.0.0.1:0')) as { port: number };
  cleanup.push(() => server.close());
  return { server, transport, port: bound.port, logger, seen, accepted };
}

async function connect(port: number, tls?: TlsOptions, address = `127.0.0.1:${port}`): Promise<ClientStream> {
  const stream = await ClientStream.connect({ transport: tcpTransport(nodeRuntime, tls === undefined ? {} : { tls }), address, connectTimeoutMs: HANG_MS });
  cleanup.push(() => stream.destroy());
  return stream;
}

/** What a call (or the connect before it) failed with: the code, and the code of its cause. */
async function failure(p: Promise<unknown>): Promise<{ code: string; cause?: string; message: string }> {
  const err = await within(p.then(() => new Error('resolved')), HANG_MS, 'the call to fail').catch((e: unknown) => e);
  if (!(err instanceof RpcError)) throw err;
  const cause = err.cause instanceof RpcError ? err.cause.codeName : undefined;
  return { code: err.codeName, ...(cause && { cause }), message: err.message };
}

describe('calls over TLS (tcp transport, node runtime)', () => {
  it('mTLS: handlers see the verified client identity; a tls:// address dials TLS by name', async () => {
    const s = await serve(mtls());
    const stream = await connect(s.port, byAddress(certs.client), `tls://localhost:${s.port}`);
    const identity = JSON.parse(text((await stream.call(1)).msg)) as PeerIdentity;
    expect(identity).toMatchObject({ subject: 'CN=test-client', altNames: ['URI:spiffe://skein.test/client', 'DNS:client.skein.test'] });
    expect(identity.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('peers.admit judges a connection by its client certificate once the handshake is done (it is not done at accept)', async () => {
    const judged: (string | undefined)[] = [];
    const s = await serve(mtls(), {
      peers: { admit: (c) => (judged.push(c.identity?.subject), c.identity?.subject === 'CN=test-client') },
    });
    const stream = await connect(s.port, byAddress(certs.client), `tls://localhost:${s.port}`);
    await stream.call(1);
    expect(s.server.openConnections().map((c) => c.kind)).toEqual(['peer']);
    expect(s.server.stats()).toMatchObject({ clients: 0, peers: 1 });
    // At accept the identity was not known yet; at the hello it was.
    expect(judged).toEqual([undefined, 'CN=test-client']);
  });

  it('without requestCert the connection is encrypted and handlers see no identity', async () => {
    const s = await serve(serverTls());
    const stream = await connect(s.port, clientTls());
    expect(text((await stream.call(1)).msg)).toBe('null');
  });

  for (const [name, pair] of [
    ['no client certificate', undefined],
    ['an expired client certificate', 'expired'],
    ['a client certificate from another CA', 'foreign'],
  ] as const) {
    it(`refuses ${name} before dispatch: a server log line, Unauthenticated on the client`, async () => {
      const s = await serve(mtls());
            const outcome = await failure(connect(s.port, clientTls(pair && certs[pair])).then((st) => st.call(1)));
      // TLS 1.3 may finish the client's handshake before the refusal: then the call fails with IO, caused by it.
      expect(outcome.code === 'Unauthenticated' || outcome.cause === 'Unauthenticated').toBe(true);
      await waitFor(() => s.logger.lines.some((l) => l.msg?.startsWith('closing connection') && /certificate/i.test(String(l.obj.reason))), { what: 'the refusal logged' });
      expect(s.seen).toEqual([]);
    });
  }

  for (const [name, pair] of [
    ['no client certificate', undefined],
    ['an expired client certificate', 'expired'],
  ] as const) {
    it(`a connect with credentials refused for ${name} fails with Unauthenticated, not Unreachable`, async () => {
      const s = await serve(mtls(), { authenticate: () => ({ principal: 'anyone' }) });
            const transport = tcpTransport(nodeRuntime, { tls: clientTls(pair && certs[pair]) });
      const connecting = ClientStream.connect({ transport, address: `127.0.0.1:${s.port}`, credentials: 'token', connectTimeoutMs: HANG_MS });
      const outcome = await failure(connecting.then((st) => (cleanup.push(() => st.destroy()), st.call(1))));
      expect(outcome).toMatchObject({ code: 'Unauthenticated', message: expect.stringMatching(/certificate/) });
      expect(s.seen).toEqual([]);
    });
  }

  it("a pool whose transport refuses its own TLS options (a key not its certificate's) fails its waiting calls with that InvalidArgument at once, not Unreachable after the budget", async () => {
    const s = await serve(mtls());
    const mismatched = tcpTransport(nodeRuntime, { tls: clientTls({ cert: certs.client.cert, key: certs.server.key }) });
    // A budget longer than the test: Unreachable would come only at its end.
    const pool = new ConnPool({ transport: mismatched, address: `127.0.0.1:${s.port}`, connectBudgetMs: 10 * HANG_MS, logger: silentLogger });
    cleanup.push(() => pool.destroy());
    const err = await failure(pool.call(1));
    expect(err.code).toBe('InvalidArgument');
    expect(err.message).toMatch(/^tls: cannot use the certificate, key or CA given: /);
    expect(s.seen).toEqual([]);
  });

  it("a pool whose last connect its transport refused fails later calls at once with that InvalidArgument, in backoff and past the budget, until a reloadTls mends it", async () => {
    const s = await serve(mtls());
    const mismatched = tcpTransport(nodeRuntime, { tls: clientTls({ cert: certs.client.cert, key: certs.server.key }) });
    let connects = 0;
    const counting: Transport = { ...mismatched, connect: (...a) => (connects++, mismatched.connect(...a)) };
    // A manual clock: the backoff's next attempt comes only when the test advances it.
    const clock = new ManualClock();
    const pool = new ConnPool({ transport: counting, address: `127.0.0.1:${s.port}`, clock, connectBudgetMs: 1000, logger: silentLogger });
    cleanup.push(() => pool.destroy());
    const first = (await within(pool.call(1).catch((e: unknown) => e), HANG_MS, 'the first call')) as RpcError;
    expect(first).toMatchObject({ codeName: 'InvalidArgument', message: expect.stringMatching(/^tls: cannot use the certificate, key or CA given: /) });
    const same = { code: first.code, message: first.message, retry: first.retry };
    // In backoff, before the budget: at once, with no connect of its own (it waited for the next attempt).
    const attempts = connects;
    await expect(within(pool.call(1), HANG_MS, 'a call in backoff')).rejects.toMatchObject(same);
    expect(connects).toBe(attempts);
    // Past the budget, with attempts failing meanwhile: the same error, not Unreachable.
    clock.advance(2000);
    await waitFor(() => connects > attempts && pool.state === 'backoff', { what: 'another attempt refused' });
    await expect(within(pool.call(1), HANG_MS, 'a call past the budget')).rejects.toMatchObject(same);
    // Mended: once a connect succeeds, calls go through.
    await mismatched.reloadTls(clientTls(certs.client));
    await waitFor(() => (clock.advance(1000), pool.state === 'ready'), { what: 'a connect with the mended pair' });
    await within(pool.call(1), HANG_MS, 'the call after the reload');
    expect(s.seen).toHaveLength(1);
  });

  it('a plaintext client on a TLS server fails fast, saying the server speaks TLS', async () => {
    const s = await serve(serverTls());
    const outcome = await failure(connect(s.port).then((st) => st.call(1)));
    expect(outcome.message).toMatch(/a TLS server closes a plaintext client/);
    expect(s.seen).toEqual([]);
  });

  it('a TLS client on a plaintext server fails to connect, saying so; the server logs a TLS client', async () => {
    const s = await serve(undefined);
    const outcome = await failure(connect(s.port, clientTls()));
    expect(outcome).toMatchObject({ code: 'Unreachable', message: expect.stringMatching(/does the server speak TLS/) });
    await waitFor(() => s.logger.lines.some((l) => /a TLS client is talking to this plaintext endpoint/.test(String(l.obj.reason))), { what: 'the mismatch logged' });
  });

  it('a stalled handshake counts against maxConnections until handshakeTimeoutMs closes it', async () => {
    const s = await serve(serverTls({ handshakeTimeoutMs: 500 }), { maxConnections: 1 });
    const silent = net.connect({ host: '127.0.0.1', port: s.port });
    const silentClosed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    silent.on('error', () => {});
    cleanup.push(() => silent.destroy());
    await waitFor(() => s.accepted.count === 1, { what: 'the silent connection handed to the server' });
    // The cap is taken by a connection that has not even said hello.
    const refused = await failure(connect(s.port, clientTls()).then((st) => st.call(1)));
    expect(refused.code === 'Unreachable' || refused.code === 'IO').toBe(true);
    expect(s.logger.lines.some((l) => l.msg === 'connection limit reached: refusing new connections')).toBe(true);
    await within(silentClosed, HANG_MS, 'the stalled handshake to be closed');
    await waitFor(() => s.logger.lines.some((l) => l.obj.reason === 'TLS handshake not done within 500 ms'), { what: 'the handshake timeout logged' });
    const stream = await connect(s.port, clientTls());
    expect(text((await stream.call(1)).msg)).toBe('null');
  });

  it("transport.reloadTls serves a new certificate to later connections without a restart", async () => {
    const s = await serve(serverTls());
    const before = await connect(s.port, clientTls());
    await s.transport.reloadTls(certs.reloaded);
    // A new connection is served the new certificate (CN=reloaded)...
    const later = tls.connect({ host: '127.0.0.1', port: s.port, ...clientTls() });
    cleanup.push(() => later.destroy());
    await new Promise((resolve, reject) => later.once('secureConnect', resolve).once('error', reject));
    expect(later.getPeerCertificate().subject.CN).toBe('reloaded');
    expect(text((await (await connect(s.port, clientTls())).call(1)).msg)).toBe('null');
    // ...while the connection made before keeps working.
    expect(text((await before.call(1)).msg)).toBe('null');
  });
});
