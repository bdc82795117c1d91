import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, RpcError, type Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { ManualClock, signClientCert, suiteCerts, testTls, waitFor, within, type CertPair, cleanups } from '@skein/test-utils';
import { ClientStream, RpcServer, createRouter, type RpcServerOptions } from '../src/index.js';
import { kindRecordingServer } from './harness.js';

/*
 * Peers told from clients by their TLS client certificate alone (no `authenticate`), while the
 * clients are at their cap: a TLS connection is handed to the server before its handshake, so
 * its certificate is not known at accept, only at its hello (docs/tls.md, docs/protocol.md
 * "Peers and clients").
 */

const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);
/** A client certificate from the same CA that `peers.admit` does not take (the suite's is `CN=test-client`, the peer's). */
let stranger: CertPair;
beforeAll(() => void (stranger = signClientCert(certs, 'plain-client')));

const cleanup = cleanups();

const HANG_MS = 10_000;

/** An mTLS server whose clients' cap is 1 and whose peers are the connections showing `CN=test-client`; records the kind of each call. */
async function serve(opts: Partial<RpcServerOptions> = {}, peersMax = Infinity) {
  const { server, logger, kinds } = kindRecordingServer({ peers: { admit: (c) => c.identity?.subject === 'CN=test-client', maxConnections: peersMax }, ...opts });
  // A long handshake timeout: only the server's own bound may close a connection that says nothing.
  const transport = tcpTransport(nodeRuntime, { tls: mtls({ handshakeTimeoutMs: 60_000 }) });
  // Counts the connections the transport hands the server, handshake done or not.
  const accepted = { count: 0 };
  const counting: Transport = { ...transport, listen: (address, spec, accept) => transport.listen(address, spec, (conn) => (accepted.count++, accept(conn))) };
  const { port } = (await server.listen(counting, '127.0.0.1:0')) as { port: number };
  cleanup.push(() => server.close());
  const connect = async (pair: CertPair): Promise<ClientStream> => {
    const stream = await ClientStream.connect({ transport: tcpTransport(nodeRuntime, { tls: clientTls(pair) }), address: `127.0.0.1:${port}`, connectTimeoutMs: HANG_MS });
    cleanup.push(() => stream.destroy());
    return stream;
  };
  /** The code a call on a new connection failed with ('ok' if it did not). */
  const outcome = async (pair: CertPair): Promise<string> => {
    const call = connect(pair).then((s) => s.call(1));
    const settled = await within(call.then(() => 'ok', (e: unknown) => (e instanceof RpcError ? e.codeName : String(e))), HANG_MS, 'the call to settle');
    return settled;
  };
  return { server, port, logger, kinds, accepted, connect, outcome };
}

describe('peers known by their certificate while clients are at their cap (mTLS, no authenticate)', () => {
  it('admits a peer at its hello, and still refuses a client without such a certificate', async () => {
    const s = await serve();
    await (await s.connect(stranger)).call(1);
    // Refused at accept before: its certificate was not known yet (IO on its call).
    expect(await s.outcome(certs.client)).toBe('ok');
    expect(s.kinds).toEqual(['client', 'peer']);
    expect(s.server.stats()).toMatchObject({ clients: 1, peers: 1, refused: 0 });
    // A client past the cap waits for its hello, then is refused as at accept: its call never ran,
    // and says so (refused unrun by the server, or unsent once its hello's answer said why).
    const refused = await s.outcome(stranger);
    expect(['Overloaded', 'Closed']).toContain(refused);
    await waitFor(() => s.server.connections === 2, { what: 'the refused client gone' });
    expect(s.server.stats()).toMatchObject({ clients: 1, peers: 1, refused: 1 });
    expect(s.logger.lines.filter((l) => l.level === 'warn' && l.obj.cap === 'clients.maxConnections')).toHaveLength(1);
    expect(s.kinds).toEqual(['client', 'peer']);
  });

  it("holds a connection waiting for its certificate in a peer's place, for twice authTimeoutMs at most", async () => {
    const clock = new ManualClock();
    const s = await serve({ clock, authTimeoutMs: 1000 }, 1);
    await (await s.connect(stranger)).call(1);
    // Past the clients' cap, a connection that never even starts its handshake.
    const silent = net.connect({ host: '127.0.0.1', port: s.port });
    const silentClosed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    silent.on('error', () => {});
    cleanup.push(() => silent.destroy());
    await waitFor(() => s.accepted.count === 2, { what: 'the silent connection handed to the server' });
    expect(s.server.stats()).toMatchObject({ clients: 2, peers: 0 });
    // It holds the peers' one place: how many may wait is bounded by the peers' room, so the next
    // one, a peer as it turns out, cannot wait on probation and is refused at accept as a client.
    expect(['IO', 'Unreachable']).toContain(await s.outcome(certs.client));
    expect(s.server.stats()).toMatchObject({ clients: 2, peers: 0, refused: 1 });
    clock.advance(1999);
    expect(s.server.connections).toBe(2);
    clock.advance(1);
    await within(silentClosed, HANG_MS, 'the waiting connection to be closed');
    expect(s.logger.lines.some((l) => /still not a peer after twice authTimeoutMs/.test(l.msg ?? ''))).toBe(true);
    // Its place is free again.
    expect(await s.outcome(certs.client)).toBe('ok');
    expect(s.server.stats()).toMatchObject({ clients: 1, peers: 1 });
  });

  it('checks authTimeoutMs without authenticate too: it bounds probation', () => {
    let err: unknown;
    try {
      new RpcServer({ dispatch: createRouter({}), peers: { admit: () => false }, authTimeoutMs: 0 });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/authTimeoutMs must be/) });
  });

  it('a client with credentials refused at its hello: its connect fails with the server\'s reason, not a closed stream', async () => {
    const s = await serve();
    await (await s.connect(stranger)).call(1);
    // Credentials it offers are no use here (no authenticate): the hello is its last chance.
    const connecting = ClientStream.connect({ transport: tcpTransport(nodeRuntime, { tls: clientTls(stranger) }), address: `127.0.0.1:${s.port}`, connectTimeoutMs: HANG_MS, credentials: 'token' });
    const outcome = await within(
      connecting.then(
        (stream) => (cleanup.push(() => stream.destroy()), `resolved, ${stream.state}`),
        (e: unknown) => e,
      ),
      HANG_MS,
      'the connect to settle',
    );
    // A pool that got a closed stream could only say "closed at once", losing why.
    expect(outcome).toBeInstanceOf(RpcError);
    expect(outcome).toMatchObject({ code: ErrorCode.Overloaded });
    expect((outcome as RpcError).message).toMatch(/clients\.maxConnections/);
    expect(s.kinds).toEqual(['client']);
  });
});
