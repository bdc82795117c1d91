import { describe, expect, it } from 'vitest';
import type { Logger, Transport } from '@skein/core';
import { cleanups, memoryLogger, signClientCertDated, suiteCerts, testTls, type CertPair, type LogLine } from '@skein/test-utils';
import { wsTransport } from '../src/index.js';
import { spec } from './helpers.js';

const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);
const cleanup = cleanups();

const DAY = 24 * 3600_000;
const HANG_MS = 10_000;

const dated = (name: string, from: number, to: number): CertPair => signClientCertDated(certs, name, new Date(Date.now() + from), new Date(Date.now() + to));
const warned = (lines: readonly LogLine[]): unknown[] => lines.filter((l) => l.level === 'warn').map((l) => l.msg);

/** A wss listener that asks every client for a certificate from the test CA. */
async function mtlsListener(): Promise<{ host: string; port: number }> {
  const listener = await wsTransport({ tls: mtls() }).listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => {
    conn.bind({ frame() {}, drain() {}, close() {} });
    cleanup.push(() => conn.close());
  });
  cleanup.push(() => listener.close());
  return listener.address as { host: string; port: number };
}

/** A connect with `logger` as ClientStream passes its own; settles either way (a server refuses an expired certificate). */
async function connectOnce(transport: Transport, address: { host: string; port: number }, logger?: Logger): Promise<boolean> {
  const conn = await transport.connect(address, spec, { timeoutMs: HANG_MS, ...(logger && { logger }) }).catch(() => undefined);
  if (conn) cleanup.push(() => conn.close());
  return conn !== undefined;
}

describe('a wss client warns of the client certificate it presents (mTLS)', () => {
  it('expired: a warn line through the connect\'s logger, none through the transport\'s own', async () => {
    const address = await mtlsListener();
    const own = memoryLogger();
    const logger = memoryLogger();
    await connectOnce(wsTransport({ tls: clientTls(certs.expired), logger: own }), address, logger);
    expect(warned(logger.lines)).toEqual(['TLS client certificate CN=test-client expired at 2020-01-02T00:00:00.000Z: servers refuse it; renew it and reloadTls']);
    expect(own.lines).toEqual([]);
  });

  it('about to expire: one line, through the transport\'s own logger when the connect has none, for two connects', async () => {
    const address = await mtlsListener();
    const own = memoryLogger();
    const transport = wsTransport({ tls: clientTls(dated('soon-ws', -DAY, 2 * DAY)), logger: own });
    expect(await connectOnce(transport, address)).toBe(true);
    expect(await connectOnce(transport, address)).toBe(true);
    expect(warned(own.lines)).toEqual([expect.stringMatching(/^TLS client certificate CN=soon-ws expires at \S+Z, in 1 day: renew it and reloadTls$/)]);
  });

  it('valid for 30 days: no line', async () => {
    const address = await mtlsListener();
    const logger = memoryLogger();
    expect(await connectOnce(wsTransport({ tls: clientTls(certs.client) }), address, logger)).toBe(true);
    expect(logger.lines).toEqual([]);
  });
});
