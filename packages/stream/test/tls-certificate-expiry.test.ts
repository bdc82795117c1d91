import { describe, expect, it } from 'vitest';
import { ErrorCode, type TlsOptions, type Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { uwsTransport, wsTransport } from '@skein/transport-ws';
import { cleanups, memoryLogger, signServerCertDated, suiteCerts, testTls, waitFor, type LogLine } from '@skein/test-utils';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';

/**
 * A server whose certificate is expired or about to be says so in its own log, whichever
 * transport serves it: RpcServer hands its logger to the listeners it opens, the one you gave it;
 * given none, a transport's own logger keeps its listeners' lines.
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

const warnedLines = (lines: readonly LogLine[]): string[] => lines.filter((l) => l.level === 'warn').map((l) => String(l.msg));

describe("an RpcServer given no logger leaves its listeners' lines to the transport's own", () => {
  // Before, RpcServer handed its silent default to every listener, and these lines went nowhere.
  it.each<[string, (tls: TlsOptions, logger: ReturnType<typeof memoryLogger>) => Transport]>([
    ['tcp', (tls) => tcpTransport(nodeRuntime, { tls })],
    ['ws (wss)', (tls, logger) => wsTransport({ tls, logger })],
    ['uWebSockets.js (wss)', (tls, logger) => uwsTransport({ tls, logger })],
  ])('%s: an expired certificate is warned of in the transport\'s logger (tcp has none)', async (name, transportWith) => {
    const own = memoryLogger();
    const server = new RpcServer({ dispatch: createRouter({}) });
    cleanup.push(() => server.close());
    const cert = signServerCertDated(certs, `gone-${name.split(' ')[0]}`, new Date(Date.now() - 10 * DAY), new Date(Date.now() - DAY));
    await server.listen(transportWith(cert, own), '127.0.0.1:0');
    expect(warnedLines(own.lines)).toEqual(name === 'tcp' ? [] : [expect.stringMatching(/^TLS certificate CN=gone-\S+ expired at \S+Z/)]);
  });

  it("ws (wss): a server's logger, given, takes its listeners' lines; the transport's own has none", async () => {
    const own = memoryLogger();
    const logger = memoryLogger();
    const server = new RpcServer({ dispatch: createRouter({}), logger });
    cleanup.push(() => server.close());
    const cert = signServerCertDated(certs, 'gone-both', new Date(Date.now() - 10 * DAY), new Date(Date.now() - DAY));
    await server.listen(wsTransport({ tls: cert, logger: own }), '127.0.0.1:0');
    expect(warnedLines(logger.lines)).toEqual([expect.stringMatching(/^TLS certificate CN=gone-both expired at /)]);
    expect(own.lines).toEqual([]);
  });
});

describe("a wss listener's TLS refusals are in the RpcServer's logger", () => {
  const { mtls, clientTls } = testTls(certs);

  it('ws (wss): a client certificate from another CA is refused Unauthenticated, and the server\'s logger says why', async () => {
    const logger = memoryLogger();
    const server = new RpcServer({ dispatch: createRouter({}), logger });
    cleanup.push(() => server.close());
    const at = (await server.listen(wsTransport({ tls: mtls() }), '127.0.0.1:0')) as { port: number };
    const client = wsTransport({ tls: clientTls(certs.foreign) });
    const err = await ClientStream.connect({ transport: client, address: { host: '127.0.0.1', port: at.port, tls: true }, connectTimeoutMs: 10_000 }).then(
      (stream) => (void stream.close(), 'connected'),
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: ErrorCode.Unauthenticated });
    // Before, the refusal went to the transport's logger only: silent unless given one.
    await waitFor(() => logger.lines.some((l) => l.msg === 'TLS client certificate refused: closing the connection'), { what: "the refusal in the server's logger" });
  });
});
