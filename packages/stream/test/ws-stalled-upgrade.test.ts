import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { RpcError, type Transport } from '@skein/core';
import { wsTransport, type WsTransportOptions } from '@skein/transport-ws';
import { suiteCerts, memoryLogger, testTls, waitFor, within, cleanups } from '@skein/test-utils';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';

/**
 * The ws server hands RpcServer a connection at TCP accept, before its TLS handshake and
 * upgrade: a stalled one holds a slot of `maxConnections` until its timeout closes it, and one
 * the cap refuses is closed before any TLS work.
 */
const certs = suiteCerts();

const cleanup = cleanups();

const HANG_MS = 10_000;
/** Long enough for the refused client to be tried while the stalled one holds the slot. */
const TIMEOUT_MS = 1500;
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const { serverTls, clientTls } = testTls(certs);

/** An RpcServer with room for one connection; counts the connections the transport hands it. */
async function serve(options: WsTransportOptions) {
  const logger = memoryLogger();
  const server = new RpcServer({ dispatch: createRouter({ 1: () => new TextEncoder().encode('ok') }), logger, maxConnections: 1 });
  const transport = wsTransport({ ...options, logger });
  const accepted = { count: 0 };
  const counting: Transport = { ...transport, listen: (address, spec, accept) => transport.listen(address, spec, (conn) => (accepted.count++, accept(conn))) };
  const bound = (await server.listen(counting, '127.0.0.1:0')) as { port: number };
  cleanup.push(() => server.close());
  return { port: bound.port, logger, accepted, secure: options.tls !== undefined };
}

type Served = Awaited<ReturnType<typeof serve>>;

/** The ways a connection stalls before its upgrade; each resolves once the socket is open. */
const stalls = {
  /** TCP connected, not a byte sent: no ClientHello (on wss), no request (on ws). */
  silent: (port: number) => new Promise<net.Socket>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', () => {});
  }),
  /** An upgrade request without its last line. */
  halfRequest: (port: number) => new Promise<net.Socket>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.write('GET /skein HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      resolve(s);
    });
    s.on('error', () => {});
  }),
  /** The TLS handshake done, then nothing. */
  tlsThenNothing: (port: number) => new Promise<net.Socket>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ...clientTls() }, () => resolve(s));
    s.on('error', () => {});
  }),
};

async function connect(s: Served): Promise<ClientStream> {
  const transport = wsTransport(s.secure ? { tls: clientTls() } : {});
  const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${s.port}`, connectTimeoutMs: HANG_MS });
  cleanup.push(() => stream.destroy());
  return stream;
}

/** What a client the cap refuses sees: on wss, no TLS answer at all (the socket closed before any TLS work). */
async function refusedClient(s: Served): Promise<void> {
  if (s.secure) {
    const t = tls.connect({ host: '127.0.0.1', port: s.port, ...clientTls() });
    cleanup.push(() => t.destroy());
    const outcome = await within(
      new Promise<string>((resolve) => {
        t.once('secureConnect', () => resolve('TLS handshake done'));
        t.once('error', () => resolve('closed'));
        t.once('close', () => resolve('closed'));
      }),
      HANG_MS,
      'the refused TLS client',
    );
    expect(outcome).toBe('closed');
  }
  const err = await within(connect(s).then((st) => st.call(1)).then(() => new Error('served'), (e: unknown) => e), HANG_MS, 'the refused client');
  expect(err).toBeInstanceOf(RpcError);
  expect(['Unreachable', 'IO']).toContain((err as RpcError).codeName);
}

const cases: [string, () => WsTransportOptions, keyof typeof stalls, string][] = [
  ['wss: a stalled TLS handshake', () => ({ tls: { ...serverTls(), handshakeTimeoutMs: TIMEOUT_MS } }), 'silent', `TLS handshake not done within ${TIMEOUT_MS} ms`],
  ['ws: a stalled HTTP upgrade', () => ({ upgradeTimeoutMs: TIMEOUT_MS }), 'halfRequest', `WebSocket upgrade not done within ${TIMEOUT_MS} ms`],
  ['wss: a stalled upgrade after the TLS handshake', () => ({ tls: serverTls(), upgradeTimeoutMs: TIMEOUT_MS }), 'tlsThenNothing', `WebSocket upgrade not done within ${TIMEOUT_MS} ms`],
  ['wss: a TLS handshake stalled past upgradeTimeoutMs', () => ({ tls: { ...serverTls(), handshakeTimeoutMs: 60_000 }, upgradeTimeoutMs: TIMEOUT_MS }), 'silent', `WebSocket upgrade not done within ${TIMEOUT_MS} ms`],
];

describe('ws server: connections count from TCP accept, before TLS and the upgrade', () => {
  for (const [name, options, stall, reason] of cases) {
    it(`${name} holds a slot of maxConnections until it is closed, with a log line`, async () => {
      const s = await serve(options());
      const stalled = await stalls[stall](s.port);
      const stalledClosed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
      cleanup.push(() => stalled.destroy());
      await waitFor(() => s.accepted.count === 1, { what: 'the stalled connection handed to the server' });
      // The slot is taken by a connection that has not even finished its upgrade.
      await refusedClient(s);
      expect(s.logger.lines.some((l) => l.msg === 'connection limit reached: refusing new connections')).toBe(true);
      await within(stalledClosed, HANG_MS, 'the stalled connection to be closed');
      await waitFor(() => s.logger.lines.some((l) => l.msg?.startsWith('closing connection') && l.obj.reason === reason), { what: `"${reason}" logged` });
      // Its slot is free again.
      const stream = await connect(s);
      expect(text((await stream.call(1)).msg)).toBe('ok');
    });
  }
});
