import { describe, expect, it } from 'vitest';
import type { Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { cleanups, memoryLogger, signClientCertDated, suiteCerts, testTls, waitFor, type LogLine } from '@skein/test-utils';
import { ClientStream, ConnPool, RpcServer, createRouter } from '../src/index.js';

const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);
const cleanup = cleanups();

const DAY = 24 * 3600_000;

const warned = (lines: readonly LogLine[]): unknown[] => lines.filter((l) => l.level === 'warn').map((l) => l.msg);

/** An mTLS server (tcp on node, or `transport`) answering action 1 with nothing. */
async function serve(transport: Transport = tcpTransport(nodeRuntime, { tls: mtls() })): Promise<string> {
  const server = new RpcServer({ dispatch: createRouter({ 1: () => undefined }) });
  const bound = (await server.listen(transport, '127.0.0.1:0')) as { port: number };
  cleanup.push(() => server.close());
  return `127.0.0.1:${bound.port}`;
}

/** A client transport with a certificate valid from yesterday to `days` days and an hour from now, counting its connects. */
function clientTransport(name: string, days: number): { transport: Transport; connects: () => number } {
  const pair = signClientCertDated(certs, name, new Date(Date.now() - DAY), new Date(Date.now() + days * DAY + 3600_000));
  const inner = tcpTransport(nodeRuntime, { tls: clientTls(pair) });
  let count = 0;
  const transport: Transport = { ...inner, connect: (address, spec, options) => (count++, inner.connect(address, spec, options)) };
  return { transport, connects: () => count };
}

describe('a client\'s logger hears of its TLS certificate (mTLS) about to expire', () => {
  it('ClientStream.connect hands its logger to the transport\'s connect', async () => {
    const address = await serve();
    const logger = memoryLogger();
    const stream = await ClientStream.connect({ transport: clientTransport('stream-soon', 3).transport, address, logger });
    cleanup.push(() => stream.destroy());
    await stream.call(1);
    expect(warned(logger.lines)).toEqual([expect.stringMatching(/^TLS client certificate CN=stream-soon expires at \S+Z, in 3 days: renew it and reloadTls$/)]);
  });

  it('a pool that reconnects warns once, through its logger', async () => {
    const address = await serve();
    const logger = memoryLogger();
    const { transport, connects } = clientTransport('pool-soon', 5);
    // Connections retired after ~50 ms: the pool opens fresh ones as calls come.
    const pool = new ConnPool({ transport, address, logger, maxConnectionAgeMs: 50 });
    cleanup.push(() => pool.destroy());
    await waitFor(async () => (await pool.call(1), connects() >= 3), { timeoutMs: 30_000, what: 'three connects by the pool' });
    expect(warned(logger.lines).filter((m) => String(m).startsWith('TLS client certificate'))).toEqual([expect.stringMatching(/CN=pool-soon expires at \S+Z, in 5 days/)]);
  });

  it('a pool made without a logger leaves the line to the transport\'s own (ws)', async () => {
    const address = await serve(wsTransport({ tls: mtls() }));
    const own = memoryLogger();
    const pair = signClientCertDated(certs, 'ws-own', new Date(Date.now() - DAY), new Date(Date.now() + 2 * DAY + 3600_000));
    const pool = new ConnPool({ transport: wsTransport({ tls: clientTls(pair), logger: own }), address });
    cleanup.push(() => pool.destroy());
    await pool.call(1);
    expect(warned(own.lines)).toEqual([expect.stringMatching(/^TLS client certificate CN=ws-own expires at \S+Z, in 2 days/)]);
  });
});
