import { describe, expect, it } from 'vitest';
import type { TlsOptions, Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { uwsTransport, wsTransport } from '@skein/transport-ws';
import { cleanups, memoryLogger, signServerCertDated, suiteCerts } from '@skein/test-utils';
import { RpcServer, createRouter } from '../src/index.js';

/**
 * A server whose certificate is expired or about to be says so in its own log, whichever
 * transport serves it: RpcServer hands its logger to the listeners it opens.
 */
const certs = suiteCerts();
const cleanup = cleanups();
const DAY = 24 * 3600_000;

const transports: [string, (tls: TlsOptions) => Transport][] = [
  ['tcp', (tls) => tcpTransport(nodeRuntime, { tls })],
  ['ws (wss)', (tls) => wsTransport({ tls })],
  ['uWebSockets.js (wss)', (tls) => uwsTransport({ tls })],
];

describe('RpcServer logs a TLS listener\'s certificate about to expire', () => {
  it.each(transports)('%s: the warn line is in the server\'s logger', async (name, transportWith) => {
    const logger = memoryLogger();
    const server = new RpcServer({ dispatch: createRouter({}), logger });
    cleanup.push(() => server.close());
    const cert = signServerCertDated(certs, `soon-${name.split(' ')[0]}`, new Date(Date.now() - DAY), new Date(Date.now() + 2 * DAY));
    await server.listen(transportWith(cert), '127.0.0.1:0');
    const warned = logger.lines.filter((l) => l.level === 'warn');
    expect(warned.map((l) => l.msg)).toEqual([expect.stringMatching(/^TLS certificate CN=soon-\S+ expires at \S+Z, in 1 day: renew it and reloadTls$/)]);
  });
});
