import { describe, expect, it } from 'vitest';
import { leafValidity, warnOfClientCertificate, type FrameConn, type Logger, type TlsOptions } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { cleanups, memoryLogger, signClientCertDated, suiteCerts, testTls, type CertPair, type LogLine } from '@skein/test-utils';
import { tcpTransport } from '../src/index.js';
import { spec } from './spec.js';

const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);
const cleanup = cleanups();

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const HANG_MS = 10_000;

/** A client certificate from the test CA, CN=<name>, valid from `from` to `to` ms from now. */
const dated = (name: string, from: number, to: number): CertPair => signClientCertDated(certs, name, new Date(Date.now() + from), new Date(Date.now() + to));

const warnings = (lines: readonly LogLine[]): LogLine[] => lines.filter((l) => l.level === 'warn');

/** An mTLS listener (asks every client for a certificate from the test CA); its accepted connections are kept open until the test ends. */
async function mtlsListener() {
  const listener = await tcpTransport(nodeRuntime, { tls: mtls() }).listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => {
    conn.bind({ frame() {}, drain() {}, close() {} });
    cleanup.push(() => conn.close());
  });
  cleanup.push(() => listener.close());
  return listener.address;
}

/**
 * A connect through `transport` with `logger`, as ClientStream makes one; settles either way (a
 * server refuses an expired certificate, in the handshake or, with TLS 1.3, right after it).
 */
async function connectOnce(transport: ReturnType<typeof tcpTransport>, address: Awaited<ReturnType<typeof mtlsListener>>, logger?: Logger): Promise<FrameConn | Error> {
  const conn = await transport.connect(address, spec, { timeoutMs: HANG_MS, ...(logger && { logger }) }).catch((e: unknown) => e as Error);
  if (!(conn instanceof Error)) cleanup.push(() => conn.close());
  return conn;
}

describe('a TLS client warns, through its logger, of the certificate it presents (mTLS)', () => {
  it('expired: one warn line naming its subject and notAfter, as the listener words it for its own', async () => {
    const address = await mtlsListener();
    const logger = memoryLogger();
    await connectOnce(tcpTransport(nodeRuntime, { tls: clientTls(certs.expired) }), address, logger);
    expect(warnings(logger.lines)).toEqual([
      {
        level: 'warn',
        msg: 'TLS client certificate CN=test-client expired at 2020-01-02T00:00:00.000Z: servers refuse it; renew it and reloadTls',
        obj: { subject: 'CN=test-client', notBefore: '2020-01-01T00:00:00.000Z', notAfter: '2020-01-02T00:00:00.000Z' },
      },
    ]);
  });

  it('not yet valid: a warn line saying from when', async () => {
    const address = await mtlsListener();
    const logger = memoryLogger();
    await connectOnce(tcpTransport(nodeRuntime, { tls: clientTls(dated('early', 2 * DAY, 30 * DAY)) }), address, logger);
    expect(warnings(logger.lines).map((l) => l.msg)).toEqual([expect.stringMatching(/^TLS client certificate CN=early is not valid until \S+Z \(notAfter \S+Z\): servers refuse it until then/)]);
  });

  it('expiring within 14 days: a warn line with the time left; the connect goes ahead', async () => {
    const address = await mtlsListener();
    const logger = memoryLogger();
    const conn = await connectOnce(tcpTransport(nodeRuntime, { tls: clientTls(dated('soon', -HOUR, 3 * DAY - HOUR)) }), address, logger);
    expect(conn).not.toBeInstanceOf(Error);
    expect(warnings(logger.lines).map((l) => l.msg)).toEqual([expect.stringMatching(/^TLS client certificate CN=soon expires at \S+Z, in 2 days: renew it and reloadTls$/)]);
  });

  it('valid for longer than the window (the test certificates: 30 days), or no certificate: no line', async () => {
    const address = await mtlsListener();
    const logger = memoryLogger();
    expect(await connectOnce(tcpTransport(nodeRuntime, { tls: clientTls(certs.client) }), address, logger)).not.toBeInstanceOf(Error);
    await connectOnce(tcpTransport(nodeRuntime, { tls: clientTls() }), address, logger);
    expect(logger.lines).toEqual([]);
  });

  it('once per options object, not per connect: a pool\'s reconnects, and a second transport on the same options, add no line', async () => {
    const address = await mtlsListener();
    const logger = memoryLogger();
    const tls = clientTls(dated('pooled', -HOUR, 5 * DAY));
    const transport = tcpTransport(nodeRuntime, { tls });
    for (let i = 0; i < 3; i++) expect(await connectOnce(transport, address, logger)).not.toBeInstanceOf(Error);
    await connectOnce(tcpTransport(nodeRuntime, { tls }), address, logger);
    expect(warnings(logger.lines).map((l) => l.obj['subject'])).toEqual(['CN=pooled']);
  });

  it('a connect without a logger checks nothing: the next one with a logger still hears of it', async () => {
    const address = await mtlsListener();
    const logger = memoryLogger();
    const transport = tcpTransport(nodeRuntime, { tls: clientTls(dated('unheard', -HOUR, DAY)) });
    await connectOnce(transport, address);
    await connectOnce(transport, address, logger);
    expect(warnings(logger.lines).map((l) => l.obj['subject'])).toEqual(['CN=unheard']);
  });

  it('tls.expiryWarningMs sets the window, as for a listener: 60 days warns of a 30-day certificate, 0 of none about to expire', async () => {
    const address = await mtlsListener();
    const wide = memoryLogger();
    await connectOnce(tcpTransport(nodeRuntime, { tls: clientTls({ ...certs.client, expiryWarningMs: 60 * DAY }) }), address, wide);
    expect(warnings(wide.lines).map((l) => l.msg)).toEqual([expect.stringMatching(/^TLS client certificate CN=test-client expires at \S+Z, in 29 days/)]);
    const none = memoryLogger();
    await connectOnce(tcpTransport(nodeRuntime, { tls: clientTls({ ...dated('soon-0', -HOUR, DAY), expiryWarningMs: 0 }) }), address, none);
    expect(none.lines).toEqual([]);
  });

  it('reloadTls to a client certificate about to expire: the next connect warns of it', async () => {
    const address = await mtlsListener();
    const logger = memoryLogger();
    // A client-only transport, made with a servername: reloadTls checks its options as a connect's.
    const transport = tcpTransport(nodeRuntime, { tls: clientTls(certs.client) });
    await connectOnce(transport, address, logger);
    await transport.reloadTls(dated('renewed-late', -HOUR, DAY));
    await connectOnce(transport, address, logger);
    await connectOnce(transport, address, logger);
    expect(warnings(logger.lines).map((l) => l.obj['subject'])).toEqual(['CN=renewed-late']);
  });

  it('a logger that throws fails no connect', async () => {
    const address = await mtlsListener();
    const throwing: Logger = { debug() {}, info() {}, error() {}, warn: () => { throw new Error('log sink down'); } };
    const conn = await connectOnce(tcpTransport(nodeRuntime, { tls: clientTls(dated('thrown', -HOUR, DAY)) }), address, throwing);
    expect(conn).not.toBeInstanceOf(Error);
  });
});

describe('warnOfClientCertificate', () => {
  it('again at the first connect a day later while it calls for it; one valid for longer once its date comes within the window', () => {
    const logger = memoryLogger();
    let now = Date.now();
    const soon: TlsOptions = { ...dated('daily', -HOUR, 5 * DAY) };
    warnOfClientCertificate(soon, logger, () => now);
    now += DAY - 1;
    warnOfClientCertificate(soon, logger, () => now);
    expect(logger.lines.map((l) => l.msg)).toEqual([expect.stringMatching(/in 4 days/)]);
    now += 1;
    warnOfClientCertificate(soon, logger, () => now);
    expect(logger.lines.map((l) => l.msg)).toEqual([expect.stringMatching(/in 4 days/), expect.stringMatching(/in 3 days/)]);

    const later = memoryLogger();
    const weeks: TlsOptions = { ...dated('weeks', -HOUR, 20 * DAY) };
    const notAfter = leafValidity(weeks.cert as string)!.notAfter;
    now = Date.now();
    warnOfClientCertificate(weeks, later, () => now);
    now = notAfter - 14 * DAY - 1;
    warnOfClientCertificate(weeks, later, () => now);
    expect(later.lines).toEqual([]);
    now += 1;
    warnOfClientCertificate(weeks, later, () => now);
    expect(later.lines.map((l) => l.msg)).toEqual([expect.stringMatching(/^TLS client certificate CN=weeks expires at \S+Z, in 14 days/)]);
  });
});
