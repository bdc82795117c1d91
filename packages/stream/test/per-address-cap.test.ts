import { ErrorCode, RpcError, silentLogger, type Transport } from '@skein/core';
import { cleanups, freePort, memoryLogger, portOf, rawConnect, suiteCerts, testTls, tmpSocketPath, waitFor, within, type RawSocket } from '@skein/test-utils';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { uwsTransport, wsTransport } from '@skein/transport-ws';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type Authenticate, type RpcServerOptions } from '../src/index.js';
import { requestFrame, responseFrames, transport } from './harness.js';
import { str } from './pool-harness.js';

/*
 * `maxConnections` is the server's over all addresses: one host could take every place. Each
 * kind's `maxConnectionsPerAddress` bounds the connections of that kind from one remote IP
 * address: the one past it is refused at accept as at any connection cap, the place comes back
 * however the connection ends, and an address's count goes with its last connection. Linux
 * loopback has all of 127/8: a second host is 127.0.0.2.
 */

const cleanup = cleanups();
const OTHER_HOST = '127.0.0.2';
const { serverTls, clientTls } = testTls(suiteCerts());
const utf8 = new TextDecoder();

/** A server of one action (`op`, answering "ok"), listening on `on`; `connect` opens a ClientStream to it from 127.0.0.1. */
async function start(opts: Partial<RpcServerOptions>, t: Transport = transport, on = '127.0.0.1:0', client: Transport = t) {
  const logger = memoryLogger();
  const server = new RpcServer({ dispatch: createRouter({ op: () => str('ok') }, silentLogger), logger, ...opts });
  const bound = await server.listen(t, on);
  const address = 'path' in bound ? `unix:${bound.path}` : `127.0.0.1:${portOf(bound)}`;
  cleanup.push(() => server.close());
  const connect = async (extra: { credentials?: string } = {}): Promise<ClientStream> => {
    const s = await ClientStream.connect({ transport: client, address, keepaliveMs: 0, ...extra });
    cleanup.push(() => s.destroy());
    return s;
  };
  return { server, address, logger, connect };
}

/** A raw connection that says nothing (from `from`), closed by the test's cleanup. */
async function raw(address: string, from: { localAddress?: string; localPort?: number } = {}): Promise<RawSocket> {
  const r = await rawConnect(address, from);
  cleanup.push(() => r.destroy());
  return r;
}

const outcome = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'ran', (e: unknown) => e);
const answered = async (s: ClientStream): Promise<string> => utf8.decode((await s.call('op')).msg);
/**
 * How many addresses the server holds a count for: internal (ConnCensus.addresses), read to show
 * that an address's entry goes with its last connection, so one that came and went holds nothing.
 */
const addressesHeld = (server: RpcServer): number => (server as unknown as { census: { addresses: { size: number } } }).census.addresses.size;
/** Whether this host can listen on IPv6's any address (dual-stack): a CI host without IPv6 skips the one test that needs it. */
const dualStack = await new Promise<boolean>((resolve) => {
  const srv = net.createServer();
  srv.once('error', () => resolve(false));
  srv.listen(0, '::', () => srv.close(() => resolve(true)));
});
const capLines = (lines: { level: string; msg?: string; obj: Record<string, unknown> }[], cap: string) => lines.filter((l) => l.level === 'warn' && l.obj.cap === cap);

describe('clients.maxConnectionsPerAddress', () => {
  it('refuses the connection past it from one address, Overloaded and naming the option, while another address gets in', async () => {
    const s = await start({ clients: { maxConnectionsPerAddress: 2 } });
    for (const c of [await s.connect(), await s.connect()]) expect(await answered(c)).toBe('ok');
    const third = await s.connect();
    const err = await within(outcome(third.call('op')), 10_000, 'the third call');
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.Overloaded, retry: 'safe' });
    expect((err as RpcError).message).toMatch(/connection limit reached \(clients\.maxConnectionsPerAddress\)/);
    // Another host is counted on its own: it gets in, and its call (razor v1, no hello) is answered.
    const other = await raw(s.address, { localAddress: OTHER_HOST });
    other.write(requestFrame('op', 1));
    await waitFor(() => responseFrames(other.received()).length === 1, { what: "the other host's answer" });
    expect(utf8.decode(responseFrames(other.received())[0]!.body)).toBe('ok');
    // Counted as any cap's refusal (stats().refused: skein_server_refused_connections_total), on the cap's own warn line.
    expect(s.server.stats()).toMatchObject({ connections: 3, refused: 1 });
    const warned = capLines(s.logger.lines, 'clients.maxConnectionsPerAddress');
    expect(warned.map((l) => l.msg)).toEqual(['connection limit reached (clients.maxConnectionsPerAddress): refusing new clients from this address']);
    expect(warned[0]!.obj).toMatchObject({ 'clients.maxConnectionsPerAddress': 2, remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
  });

  it('gives the place back when a connection closes, counts none for refused ones, and forgets an address with its last connection', async () => {
    const s = await start({ clients: { maxConnectionsPerAddress: 1 } });
    const first = await s.connect();
    await answered(first);
    expect(addressesHeld(s.server)).toBe(1);
    for (let i = 0; i < 3; i++) expect(await within(outcome((await s.connect()).call('op')), 10_000, 'a refused call')).toMatchObject({ code: ErrorCode.Overloaded });
    await first.close();
    await waitFor(() => s.server.connections === 0, { what: 'the first connection gone' });
    expect(addressesHeld(s.server)).toBe(0);
    expect(await answered(await s.connect())).toBe('ok');
    expect(s.server.stats().refused).toBe(3);
  });

  it('holds the place from accept over TLS, and gives it back when the handshake fails or is abandoned', async () => {
    const clientT = tcpTransport(nodeRuntime, { tls: clientTls() });
    const s = await start({ clients: { maxConnectionsPerAddress: 1 } }, tcpTransport(nodeRuntime, { tls: serverTls() }), '127.0.0.1:0', clientT);
    const notTls = str('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    for (const end of [(r: RawSocket) => r.write(notTls), (r: RawSocket) => r.destroy()]) {
      const silent = await raw(s.address);
      await waitFor(() => s.server.connections === 1, { what: 'the silent connection accepted' });
      // While it holds the address's one place, a TLS client from there is refused (closed at accept: over TLS nothing can be said).
      const refused = s.server.stats().refused;
      expect(await within(outcome(s.connect().then((c) => c.call('op'))), 10_000, 'a refused TLS client')).toBeInstanceOf(Error);
      expect(s.server.stats().refused).toBe(refused + 1);
      end(silent);
      await waitFor(() => s.server.connections === 0, { what: 'the failed handshake closed' });
      expect(addressesHeld(s.server)).toBe(0);
    }
    expect(await answered(await s.connect())).toBe('ok');
  });

  it('over WebSocket too: a connection whose upgrade fails gives its place back', async () => {
    const s = await start({ clients: { maxConnectionsPerAddress: 1 } }, wsTransport());
    const silent = await raw(s.address);
    await waitFor(() => s.server.connections === 1, { what: 'the silent connection accepted' });
    expect(await within(outcome(s.connect().then((c) => c.call('op'))), 10_000, 'a refused client')).toBeInstanceOf(Error);
    expect(s.server.stats().refused).toBe(1);
    silent.write(str('NOT HTTP\r\n\r\n'));
    await waitFor(() => s.server.connections === 0, { what: 'the failed upgrade closed' });
    expect(addressesHeld(s.server)).toBe(0);
    expect(await answered(await s.connect())).toBe('ok');
  });

  it('over uWS (which names a peer by its bare address), counted as over TCP', async () => {
    const s = await start({ clients: { maxConnectionsPerAddress: 1 } }, uwsTransport(), '127.0.0.1:0', wsTransport());
    const first = await s.connect();
    expect(await answered(first)).toBe('ok');
    const err = await within(outcome(s.connect().then((c) => c.call('op'))), 10_000, 'the second call');
    // Said to the client as over TCP, though uWS refuses after the upgrade: the close may come as
    // the stream binds its connection (a half-made stream threw a TypeError there).
    // (Closed, as any call on a stream the server refused: the refusal is in its words.)
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    expect((err as RpcError).message).toMatch(/clients\.maxConnectionsPerAddress/);
    expect(s.server.stats().refused).toBe(1);
    expect(capLines(s.logger.lines, 'clients.maxConnectionsPerAddress')[0]!.obj).toMatchObject({ remote: '127.0.0.1' });
    await first.close();
    await waitFor(() => s.server.connections === 0, { what: 'the first connection gone' });
    expect(addressesHeld(s.server)).toBe(0);
    expect(await answered(await s.connect())).toBe('ok');
  });

  it.runIf(dualStack)(`counts an IPv4 peer of a dual-stack listener (::ffff:127.0.0.1) as 127.0.0.1, and ::1 as a host of its own${dualStack ? '' : ' (skipped: this host cannot listen on IPv6)'}`, async () => {
    const s = await start({ clients: { maxConnectionsPerAddress: 1 } });
    const dual = portOf(await s.server.listen(transport, '[::]:0'));
    expect(await answered(await s.connect())).toBe('ok');
    const mapped = await ClientStream.connect({ transport, address: `127.0.0.1:${dual}`, keepaliveMs: 0 });
    cleanup.push(() => mapped.destroy());
    const err = await within(outcome(mapped.call('op')), 10_000, 'the call through the dual-stack listener');
    expect(err).toMatchObject({ code: ErrorCode.Overloaded, retry: 'safe' });
    expect((err as RpcError).message).toMatch(/clients\.maxConnectionsPerAddress/);
    expect(capLines(s.logger.lines, 'clients.maxConnectionsPerAddress')[0]!.obj).toMatchObject({ remote: expect.stringMatching(/^\[::ffff:127\.0\.0\.1\]:\d+$/) });
    const v6 = await ClientStream.connect({ transport, address: `[::1]:${dual}`, keepaliveMs: 0 });
    cleanup.push(() => v6.destroy());
    expect(await answered(v6)).toBe('ok');
  });

  it('counts no Unix socket connection: it has no address', async () => {
    const s = await start({ clients: { maxConnectionsPerAddress: 1 } }, transport, `unix:${tmpSocketPath()}`);
    const [a, b] = [await s.connect(), await s.connect()];
    expect([await answered(a), await answered(b)]).toEqual(['ok', 'ok']);
    expect(addressesHeld(s.server)).toBe(0);
    expect(s.server.stats().refused).toBe(0);
  });

  it('refuses a value that is no positive integer, naming the option', () => {
    for (const bad of [0, 1.5, -1, Number.NaN]) {
      expect(() => new RpcServer({ dispatch: createRouter({}), clients: { maxConnectionsPerAddress: bad } })).toThrow(/clients\.maxConnectionsPerAddress must be a positive integer/);
    }
    expect(() => new RpcServer({ dispatch: createRouter({}), peers: { admit: () => false, maxConnectionsPerAddress: 0 } })).toThrow(/peers\.maxConnectionsPerAddress/);
  });
});

describe('per address, peers and clients are counted apart', () => {
  const tokens: Authenticate = ({ text }) => ({ principal: text });

  it('a peer proven by its credentials gets in from an address whose clients are at their cap; a stranger from there is sent away, told which cap', async () => {
    const s = await start({ authenticate: tokens, requireAuth: false, clients: { maxConnectionsPerAddress: 1 }, peers: { admit: (c) => c.principal === 'peer-1' } });
    expect(await answered(await s.connect())).toBe('ok');
    // Past the clients' cap of its address it waits on probation in a peer's place; its credentials make it a peer.
    const peer = await s.connect({ credentials: 'peer-1' });
    expect(await answered(peer)).toBe('ok');
    expect(s.server.stats()).toMatchObject({ clients: 1, peers: 1, refused: 0 });
    // A stranger's hello offers nothing that could make it a peer: it is answered why and leaves.
    const stranger = await s.connect();
    const why = await within(stranger.closed(), 10_000, "the stranger's stream closed");
    expect(why).toMatchObject({ code: ErrorCode.Overloaded });
    expect(why!.message).toMatch(/^clients from this address at their cap \(clients\.maxConnectionsPerAddress\): only peers may connect from it now, .*offered no credentials/);
    await waitFor(() => s.server.stats().refused === 1, { what: 'the stranger counted as refused' });
    expect(capLines(s.logger.lines, 'clients.maxConnectionsPerAddress')).toHaveLength(1);
    // The peer stays; the stranger's place is given back.
    await waitFor(() => s.server.connections === 2, { what: 'the stranger gone' });
    expect(await answered(peer)).toBe('ok');
  });

  it('a peer known at accept takes back the place one on probation from its own address holds, not one from another address', async () => {
    const peerPort = await freePort();
    const s = await start({
      authenticate: tokens,
      requireAuth: false,
      clients: { maxConnectionsPerAddress: 1 },
      peers: { admit: (c) => c.remote === `127.0.0.1:${peerPort}`, maxConnectionsPerAddress: 1 },
    });
    const accepted = (n: number) => waitFor(() => s.server.stats().accepted === n, { what: `${n} accepted` });
    // Each address: a client in its one client place, then a silent stranger on probation in its one peer place (the other host's first: it waited longest).
    await raw(s.address, { localAddress: OTHER_HOST });
    const elsewhere = await raw(s.address, { localAddress: OTHER_HOST });
    await raw(s.address);
    const onProbation = await raw(s.address);
    await accepted(4);
    // One more stranger from 127.0.0.1 finds both its address's places taken: refused at the clients' one.
    const third = await raw(s.address);
    await within(third.closedByPeer, 10_000, 'the third stranger refused');
    expect(capLines(s.logger.lines, 'clients.maxConnectionsPerAddress')).toHaveLength(1);
    // The peer known by its address (and port) comes: the stranger on probation from its address is closed for it.
    await raw(s.address, { localPort: peerPort });
    await within(onProbation.closedByPeer, 10_000, 'the stranger on probation from the peer\'s address closed');
    await waitFor(() => s.server.stats().peers === 1, { what: 'the peer in' });
    expect(elsewhere.peerClosed).toBe(false);
    expect(s.server.stats()).toMatchObject({ connections: 4, peers: 1, refused: 1 });
    // The closed one's place was given back once, when it was taken (not again at its close): its address is full still.
    const fourth = await raw(s.address);
    await within(fourth.closedByPeer, 10_000, 'the fourth stranger refused');
    expect(s.server.stats()).toMatchObject({ connections: 4, refused: 2 });
  });
});
