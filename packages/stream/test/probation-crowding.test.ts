import net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { TlsOptions, Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { ClientStream, type RpcServerOptions } from '../src/index.js';
import { kindRecordingServer } from './harness.js';
import { deferred, suiteCerts, testTls, waitFor, within, cleanups } from '@skein/test-utils';

/*
 * Strangers past the clients' cap wait on probation in peers' places (conn-census.ts) when they
 * may still show they are peers: on a listener that asks for client certificates (handed over
 * before the handshake, so the certificate comes only at the hello), or with credentials to come.
 * A peer the server already knows (by its address at accept) must not be kept out by them: they
 * have proven nothing and run nothing, so the oldest of them gives up its place to it. On any
 * other listener nothing is to come, and the clients' cap refuses at accept.
 */

const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);
const cleanup = cleanups();

/** Loopback has all of 127/8: strangers come from 127.0.0.2, the peer from 127.0.0.1. */
const STRANGER = '127.0.0.2';
const admit = (c: { remote: string }): boolean => c.remote.startsWith('127.0.0.1:');

/** The two sides' transports: mTLS (the suite's certificates; a long handshake bound, so that only the server's own closes a silent one), or plaintext. */
function transports(kind: 'mtls-tcp' | 'mtls-ws' | 'plain') {
  if (kind === 'plain') return { server: tcpTransport(nodeRuntime), client: tcpTransport(nodeRuntime) };
  const make = (tls: TlsOptions): Transport => (kind === 'mtls-ws' ? wsTransport({ tls, upgradeTimeoutMs: 60_000 }) : tcpTransport(nodeRuntime, { tls }));
  return { server: make(mtls({ handshakeTimeoutMs: 60_000 })), client: make(clientTls(certs.client)) };
}

async function start(opts: Partial<RpcServerOptions>, kind: 'mtls-tcp' | 'mtls-ws' | 'plain' = 'mtls-tcp') {
  const { server, logger, kinds } = kindRecordingServer({ peers: { admit, maxConnections: 1 }, ...opts });
  const t = transports(kind);
  const { port } = (await server.listen(t.server, '127.0.0.1:0')) as { port: number };
  cleanup.push(() => server.close());
  /** A connection that says nothing (no handshake), from a stranger's address; resolves once the server answered it (accepted, or refused). */
  const silent = async (): Promise<{ closed: Promise<void> }> => {
    const { accepted, refused } = server.stats();
    const s = net.connect({ host: '127.0.0.1', port, localAddress: STRANGER });
    s.on('error', () => {});
    // Reads and drops what the server says (the refusal a server at its cap sends): else its end waits unread, and no close comes.
    s.resume();
    cleanup.push(() => s.destroy());
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    await waitFor(() => server.stats().accepted + server.stats().refused === accepted + refused + 1, { what: 'the silent connection accepted or refused' });
    return { closed };
  };
  const peer = async (options: { credentials?: string; onClose?: () => void } = {}): Promise<ClientStream> => {
    const s = await ClientStream.connect({ transport: t.client, address: `127.0.0.1:${port}`, keepaliveMs: 0, ...options });
    cleanup.push(() => s.destroy());
    return s;
  };
  return { server, port, logger, kinds, silent, peer };
}

describe('strangers on probation and peers known at accept', () => {
  it.each(['mtls-tcp', 'mtls-ws'] as const)('%s: a peer admitted by its address takes the place of a silent stranger on probation (no authenticate)', async (kind) => {
    const s = await start({}, kind);
    await s.silent(); // the clients' one place
    const waiting = await s.silent(); // past it: on probation, in the peers' one place
    expect(s.server.stats()).toMatchObject({ clients: 2, peers: 0, refused: 0 });
    const p = await s.peer();
    await p.call(1);
    expect(s.kinds).toEqual(['peer']);
    // The stranger that held the place is closed; the server's counts say so at once.
    await within(waiting.closed, 10_000, 'the stranger on probation to be closed');
    await waitFor(() => s.server.connections === 2, { what: 'the stranger forgotten' });
    expect(s.server.stats()).toMatchObject({ clients: 1, peers: 1, refused: 0 });
    expect(s.logger.lines.some((l) => /gives up its place to a peer/.test(l.msg ?? ''))).toBe(true);
  });

  it("takes such a place at the server's own cap too, when the peers have no cap of their own", async () => {
    const s = await start({ maxConnections: 3, peers: { admit } });
    await s.silent(); // the clients' one place
    const first = await s.silent(); // on probation: the peers' room has no end
    await s.silent(); // on probation too: the server is at its cap now
    expect(s.server.stats()).toMatchObject({ connections: 3, clients: 3, peers: 0 });
    await (await s.peer()).call(1);
    expect(s.kinds).toEqual(['peer']);
    // The one that waited longest went for it.
    await within(first.closed, 10_000, 'the oldest stranger on probation to be closed');
    expect(s.server.stats()).toMatchObject({ clients: 2, peers: 1, refused: 0 });
    // A stranger is still refused at the server's cap: it takes no one's place.
    const accepted = s.server.stats().accepted;
    const late = net.connect({ host: '127.0.0.1', port: s.port, localAddress: STRANGER });
    late.on('error', () => {});
    cleanup.push(() => late.destroy());
    await within(new Promise((resolve) => late.once('close', resolve)), 10_000, 'the late stranger refused');
    expect(s.server.stats()).toMatchObject({ accepted, refused: 1, clients: 2, peers: 1 });
  });

  it('a client its credentials make a peer takes such a place too', async () => {
    const judged = deferred<void>();
    const s = await start({
      authenticate: async ({ text }) => (await judged.promise, { principal: text }),
      requireAuth: false,
      peers: { admit: (c) => c.principal === 'peer-1', maxConnections: 1 },
    });
    // It comes first, as a client, and its credentials wait to be judged...
    const connecting = s.peer({ credentials: 'peer-1' });
    await waitFor(() => s.server.stats().accepted === 1, { what: 'the peer-to-be accepted' });
    // ...while a stranger past the clients' cap takes the peers' one place, on probation.
    const waiting = await s.silent();
    judged.resolve();
    const p = await connecting;
    await p.call(1);
    expect(s.kinds).toEqual(['peer']);
    await within(waiting.closed, 10_000, 'the stranger on probation to be closed');
    expect(s.server.stats()).toMatchObject({ clients: 0, peers: 1 });
  });

  it("a Skein client whose hello offers no credentials leaves probation at its hello, so a peer's place is free again", async () => {
    // Ordinary clients (no credentials) past the clients' cap: their hello says no credentials
    // will come, so nothing can make them peers; held on probation they kept out the peers that
    // present a token, for twice authTimeoutMs each (peer-mesh example).
    const s = await start({
      authenticate: ({ text }) => ({ principal: text }),
      requireAuth: false,
      peers: { admit: (c) => c.principal === 'peer-1', maxConnections: 1 },
    }, 'plain');
    await (await s.peer()).call(1); // the clients' one place
    const closed = deferred<void>();
    await s.peer({ onClose: () => closed.resolve() }); // no credentials: let in on probation at accept
    await within(closed.promise, 3_000, 'the client on probation closed at its hello');
    await waitFor(() => s.server.stats().clients === 1, { what: 'the client on probation forgotten' });
    const p = await s.peer({ credentials: 'peer-1' });
    await p.call(1);
    expect(s.kinds).toEqual(['client', 'peer']);
    expect(s.server.stats()).toMatchObject({ clients: 1, peers: 1 });
    expect(s.logger.lines.some((l) => /offered no credentials/.test(l.msg ?? ''))).toBe(true);
  });

  it('still refuses a peer when the peers themselves are at their cap', async () => {
    const s = await start({});
    await (await s.peer()).call(1);
    await expect(s.peer().then((p) => p.call(1))).rejects.toBeDefined();
    expect(s.server.stats()).toMatchObject({ peers: 1, refused: 1 });
  });

  it('on a plaintext listener, with nothing to come, refuses a stranger at the clients\' cap at accept (not held on probation)', async () => {
    const s = await start({}, 'plain');
    await s.silent(); // the clients' one place
    const refusedOne = await s.silent();
    await within(refusedOne.closed, 10_000, 'the stranger past the cap closed');
    expect(s.server.stats()).toMatchObject({ connections: 1, clients: 1, peers: 0, refused: 1 });
    // The peer known by its address still gets in.
    await (await s.peer()).call(1);
    expect(s.kinds).toEqual(['peer']);
  });
});
