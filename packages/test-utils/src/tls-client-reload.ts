import { ErrorCode, type Address, type FrameConn, type FrameSpec, type PeerIdentity, type TlsOptions, type Transport } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { signClientCert, signClientCertDated, suiteCerts, testTls } from './certs.js';
import { cleanups } from './cleanups.js';
import { memoryLogger } from './memory-logger.js';
import { waitFor, within } from './wait.js';

const HANG_MS = 10_000;
const HOUR = 3600_000;

/** A transport under test: made from TLS options, with the frames its test protocol reads. */
export interface TlsClientReloadHarness {
  readonly name: string;
  transport(tls: TlsOptions): Transport;
  readonly spec: FrameSpec;
  /** One whole frame of `spec` carrying `body`. */
  frame(body: string): Uint8Array;
}

/** What a listener saw of one connection: the client identity it had by its first frame. */
interface Seen {
  identity: PeerIdentity | undefined;
  frames: number;
}

/**
 * `Transport.reloadTls` on a transport that dials (docs/tls.md, "Certificate reload"): the
 * merged options are checked as a connect's always and as a listener's only while it listens, so
 * a client-only transport rotates its client certificate (mTLS) and the CA it trusts, a
 * `servername` it was made with staying valid; later connects use them, those up keep theirs.
 */
export function tlsClientReloadConformance(h: TlsClientReloadHarness): void {
  describe(`${h.name}: reloadTls on a transport that dials`, () => {
    const certs = suiteCerts();
    const { mtls, serverTls, clientTls } = testTls(certs);
    const cleanup = cleanups();

    /** A listener on `tls` that counts each connection's frames and records its client identity at the first one. */
    async function listener(tls: TlsOptions): Promise<{ address: Address; seen: Seen[] }> {
      const seen: Seen[] = [];
      const l = await h.transport(tls).listen({ host: '127.0.0.1', port: 0 }, h.spec, (conn) => {
        const entry: Seen = { identity: undefined, frames: 0 };
        seen.push(entry);
        conn.bind({ frame: () => void ((entry.identity ??= conn.identity), entry.frames++), drain() {}, close() {} });
        cleanup.push(() => conn.close());
      });
      cleanup.push(() => l.close());
      return { address: l.address, seen };
    }

    /** A connect through `client`; `closed` settles when it closes (a listener that refuses its certificate closes it). */
    async function connect(client: Transport, address: Address, logger = memoryLogger()): Promise<{ conn: FrameConn; closed: Promise<unknown> }> {
      return watched(await client.connect(address, h.spec, { timeoutMs: HANG_MS, logger }));
    }

    /** `conn` bound, with a promise of its close. */
    function watched(conn: FrameConn): { conn: FrameConn; closed: Promise<unknown> } {
      cleanup.push(() => conn.close());
      const closed = new Promise<unknown>((resolve) => conn.bind({ frame() {}, drain() {}, close: (err) => resolve(err ?? new Error('closed')) }));
      return { conn, closed };
    }

    /** Sends a frame on `c` and resolves with what the listener saw of its connection once the frame is in; rejects if `c` closes first. */
    async function delivered(c: { conn: FrameConn; closed: Promise<unknown> }, seen: Seen[]): Promise<Seen> {
      const before = seen.map((s) => s.frames);
      c.conn.write(h.frame('hi'));
      c.conn.flush();
      const got = waitFor(() => seen.find((s, i) => s.frames > (before[i] ?? 0)), { timeoutMs: HANG_MS, what: 'the frame at the listener' });
      return within(Promise.race([got, c.closed.then((err) => Promise.reject(err))]), HANG_MS * 2);
    }

    it('a client-only transport made with a servername rotates its client certificate: later connects present it, one already up keeps its own', async () => {
      const server = await listener(mtls());
      const client = h.transport(clientTls(certs.client));
      const before = await connect(client, server.address);
      expect((await delivered(before, server.seen)).identity?.subject).toBe('CN=test-client');

      await client.reloadTls!(signClientCert(certs, 'rotated'));
      expect((await delivered(await connect(client, server.address), server.seen)).identity?.subject).toBe('CN=rotated');
      // The connection up before the reload is untouched: it still carries frames, as test-client.
      expect((await delivered(before, server.seen)).identity?.subject).toBe('CN=test-client');
    });

    it('a client-only transport with only a CA reloads the CA it trusts: later connects trust the new one', async () => {
      const server = await listener(serverTls());
      const client = h.transport(clientTls({ ca: certs.foreignCa }));
      await expect(client.connect(server.address, h.spec, { timeoutMs: HANG_MS })).rejects.toMatchObject({ code: ErrorCode.Unreachable });
      await client.reloadTls!({ ca: certs.ca });
      await delivered(await connect(client, server.address), server.seen);
    });

    it('a reload invalid for a connect (a certificate without its key) is InvalidArgument and changes nothing', async () => {
      const server = await listener(mtls());
      const client = h.transport(clientTls());
      const refused = await client.reloadTls!({ cert: signClientCert(certs, 'keyless').cert }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/tls\.cert and tls\.key go together/) });
      // Still no certificate to present: the mTLS listener refuses the client, in the handshake or (TLS 1.3) right after it.
      await expect(client.connect(server.address, h.spec, { timeoutMs: HANG_MS }).then((conn) => delivered(watched(conn), server.seen))).rejects.toBeDefined();
      // The pair given whole loads.
      await client.reloadTls!(certs.client);
      expect((await delivered(await connect(client, server.address), server.seen)).identity?.subject).toBe('CN=test-client');
    });

    it('a client-only transport refuses a key that is not its certificate\'s at the reload, as a listener\'s reload does, and keeps the pair it had', async () => {
      const server = await listener(mtls());
      const client = h.transport(clientTls(certs.client));
      // The client's certificate with the server's key: a pair that does not match, well-formed.
      const refused = await client.reloadTls!({ key: certs.server.key }).catch((e: unknown) => e);
      // The same pair given to a transport's listener.
      const serving = h.transport(serverTls());
      const own = await serving.listen({ host: '127.0.0.1', port: 0 }, h.spec, (conn) => void conn.close());
      cleanup.push(() => own.close());
      const listenerRefused = await serving.reloadTls!({ cert: certs.client.cert }).catch((e: unknown) => e);
      // Named as the options the user gave, not only in the TLS library's words ("key values mismatch").
      expect(listenerRefused).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/tls\.key is not the private key of tls\.cert: /) });
      expect(refused).toMatchObject({ code: ErrorCode.InvalidArgument, message: (listenerRefused as Error).message });
      // Nothing lost: later connects present the certificate it had.
      expect((await delivered(await connect(client, server.address), server.seen)).identity?.subject).toBe('CN=test-client');
    });

    it('reloads called at once on a client-only transport apply in call order; a failed one between keeps the one before and holds up none after', async () => {
      const server = await listener(mtls());
      const client = h.transport(clientTls({ ca: certs.foreignCa }));
      const rotated = signClientCert(certs, 'in-order');
      const outcomes = await Promise.allSettled([client.reloadTls!(rotated), client.reloadTls!({ key: certs.server.key }), client.reloadTls!({ ca: certs.ca })]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCode.InvalidArgument });
      // The CA of the last, over the certificate of the first.
      expect((await delivered(await connect(client, server.address), server.seen)).identity?.subject).toBe('CN=in-order');
    });

    it('tlsGeneration counts the reloads applied, each by the time its promise resolves, a refused one not; a copy made by spreading the transport reads it live', async () => {
      const client = h.transport(clientTls(certs.client));
      expect(client.tlsGeneration!()).toBe(0);
      await expect(client.reloadTls!({ key: certs.server.key })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
      expect(client.tlsGeneration!()).toBe(0);
      await client.reloadTls!(signClientCert(certs, 'counted'));
      expect(client.tlsGeneration!()).toBe(1);
      // As a wrapper is made ({ ...inner, connect }): what a pool given the wrapper reads.
      const wrapped: Transport = { ...client };
      await client.reloadTls!({ ca: certs.ca });
      expect(wrapped.tlsGeneration!()).toBe(2);
    });

    it('reloads called at once on a transport that listens and dials: each merges over the one before, its connects keep the CA the first gave', async () => {
      const server = await listener(serverTls());
      // Its connects trust only the foreign CA until the first reload.
      const both = h.transport({ ...serverTls(), ca: certs.foreignCa });
      const own = await both.listen({ host: '127.0.0.1', port: 0 }, h.spec, (conn) => {
        conn.bind({ frame() {}, drain() {}, close() {} });
        cleanup.push(() => conn.close());
      });
      cleanup.push(() => own.close());
      const outcomes = await Promise.allSettled([both.reloadTls!({ ca: certs.ca }), both.reloadTls!(certs.reloaded)]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
      await delivered(await connect(both, server.address), server.seen);
      await connect(h.transport(clientTls()), own.address);
    });

    it('a transport that listens and dials: one reload gives its listener and its connects the new certificate and CA', async () => {
      // Its listener serves `server`'s certificate; its connects trust only the foreign CA, so fail until the reload.
      const both = h.transport({ ...serverTls(), ca: certs.foreignCa });
      const own = await both.listen({ host: '127.0.0.1', port: 0 }, h.spec, (conn) => {
        conn.bind({ frame() {}, drain() {}, close() {} });
        cleanup.push(() => conn.close());
      });
      cleanup.push(() => own.close());
      await expect(both.connect(own.address, h.spec, { timeoutMs: HANG_MS })).rejects.toMatchObject({ code: ErrorCode.Unreachable });
      await expect(both.reloadTls!({ cert: '', key: certs.reloaded.key })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
      await both.reloadTls!({ ...certs.reloaded, ca: certs.ca });
      // Its connects trust the new CA; its listener serves the new certificate (CN=reloaded, the same names).
      await connect(both, own.address);
      await connect(h.transport(clientTls()), own.address);
    });

    it('the client certificate a reload gives is the one warned of at the next connect (a servername kept)', async () => {
      const server = await listener(mtls());
      const client = h.transport(clientTls(certs.client));
      const logger = memoryLogger();
      await connect(client, server.address, logger);
      const now = Date.now();
      await client.reloadTls!(signClientCertDated(certs, 'renewed-late', new Date(now - HOUR), new Date(now + 2 * HOUR)));
      await connect(client, server.address, logger);
      expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.obj['subject'])).toEqual(['CN=renewed-late']);
    });
  });
}
