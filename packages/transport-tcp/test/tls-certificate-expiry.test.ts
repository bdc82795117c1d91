import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CertificateExpiryWatch, ErrorCode, RpcError, leafValidity, type FrameListener, type Runtime, type TlsOptions } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ManualClock, cleanups, describeNeeding, launch, memoryLogger, reap, signServerCertDated, suiteCerts, testTls, within, type CertPair, type LogLine } from '@skein/test-utils';
import { tcpTransport } from '../src/index.js';
import { spec } from './spec.js';

const certs = suiteCerts();
const { clientTls } = testTls(certs);
const cleanup = cleanups();

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const HANG_MS = 10_000;

/** A server certificate from the test CA, CN=<name>, valid from `from` to `to` ms from now. */
const dated = (name: string, from: number, to: number): CertPair => signServerCertDated(certs, name, new Date(Date.now() + from), new Date(Date.now() + to));

const warnings = (lines: readonly LogLine[]): LogLine[] => lines.filter((l) => l.level === 'warn');

/** Listens with `tls` through the tcp transport (on `runtime`), the logger given as a server gives its own. */
async function listenWith(tls: TlsOptions, runtime: Runtime = nodeRuntime) {
  const logger = memoryLogger();
  const transport = tcpTransport(runtime, { tls });
  const listener = await transport.listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => conn.bind({ frame() {}, drain() {}, close() {} }), { logger });
  cleanup.push(() => listener.close());
  return { transport, listener, logger };
}

/** The certificate the listener serves, by a TLS connect that trusts the test CA (and checks no dates when told). */
async function servedSubject(listener: FrameListener): Promise<string | undefined> {
  const conn = await tcpTransport(nodeRuntime, { tls: clientTls() }).connect(listener.address, spec, { timeoutMs: HANG_MS });
  cleanup.push(() => conn.close());
  return conn.identity?.subject;
}

describe('leafValidity: the subject and dates of a certificate, read by core', () => {
  it('reads what OpenSSL (X509Certificate) reads: UTCTime and GeneralizedTime dates, a chain\'s leaf', () => {
    const far = signServerCertDated(certs, 'far-future', new Date('2020-01-01T00:00:00Z'), new Date('2051-06-01T12:30:45Z'));
    for (const pem of [certs.server.cert, certs.expired.cert, far.cert, certs.ca, `${certs.reloaded.cert}${certs.ca}`]) {
      const x = new X509Certificate(pem);
      expect(leafValidity(pem)).toEqual({ subject: x.subject.split('\n').join(','), notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo) });
    }
    expect(leafValidity(far.cert)?.notAfter).toBe(Date.parse('2051-06-01T12:30:45Z'));
  });

  it('names a subject of several attributes, UTF-8 ones too, in their order', () => {
    execFileSync('/usr/bin/openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'named.key', '-out', 'named.crt', '-days', '30', '-utf8', '-subj', '/C=DE/O=Bäckerei Müller/OU=ops/CN=api.example'], { cwd: certs.dir, stdio: 'ignore' });
    expect(leafValidity(readFileSync(path.join(certs.dir, 'named.crt'), 'utf8'))?.subject).toBe('C=DE,O=Bäckerei Müller,OU=ops,CN=api.example');
  });
});

describe('a TLS listener warns of a certificate that is expired, not yet valid or about to expire', () => {
  it('expired: one warn line at listen naming its subject and notAfter; the listener is not refused', async () => {
    const expired = dated('gone', -10 * DAY, -DAY);
    const notAfter = new Date(leafValidity(expired.cert)!.notAfter).toISOString();
    const { listener, logger } = await listenWith({ ...expired });
    expect(warnings(logger.lines)).toEqual([
      { level: 'warn', msg: `TLS certificate CN=gone expired at ${notAfter}: clients refuse it; renew it and reloadTls`, obj: expect.objectContaining({ subject: 'CN=gone', notAfter, listener: `127.0.0.1:${(listener.address as { port: number }).port}` }) },
    ]);
  });

  it('not yet valid: a warn line saying from when', async () => {
    const { logger } = await listenWith({ ...dated('early', 2 * DAY, 30 * DAY) });
    expect(warnings(logger.lines).map((l) => l.msg)).toEqual([expect.stringMatching(/^TLS certificate CN=early is not valid until \S+Z \(notAfter \S+Z\): clients refuse it until then/)]);
  });

  it('expiring within 14 days: a warn line with the time left; it is served all the same', async () => {
    const { listener, logger } = await listenWith({ ...dated('soon', -HOUR, 3 * DAY - HOUR) });
    expect(warnings(logger.lines).map((l) => l.msg)).toEqual([expect.stringMatching(/^TLS certificate CN=soon expires at \S+Z, in 2 days: renew it and reloadTls$/)]);
    expect(await servedSubject(listener)).toBe('CN=soon');
  });

  it('valid for longer than the window (the test certificates: 30 days): no line', async () => {
    const { logger } = await listenWith({ ...certs.server });
    expect(warnings(logger.lines)).toEqual([]);
  });

  it('tls.expiryWarningMs sets the window: 0 warns of none about to expire, 60 days of a 30-day certificate', async () => {
    expect(warnings((await listenWith({ ...dated('soon-0', -HOUR, DAY), expiryWarningMs: 0 })).logger.lines)).toEqual([]);
    expect(warnings((await listenWith({ ...certs.server, expiryWarningMs: 60 * DAY })).logger.lines).map((l) => l.msg)).toEqual([expect.stringMatching(/CN=localhost expires at .*, in 29 days/)]);
  });

  it('tls.expiryWarningMs that is not a duration is InvalidArgument at listen', async () => {
    const err = await tcpTransport(nodeRuntime, { tls: { ...certs.server, expiryWarningMs: -1 } }).listen({ host: '127.0.0.1', port: 0 }, spec, () => {}).catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.InvalidArgument) && err.message).toMatch(/tls\.expiryWarningMs -1 is not a duration/);
  });

  it('reloadTls to a certificate about to expire warns then; a reload to a good one adds no line', async () => {
    const { transport, listener, logger } = await listenWith({ ...certs.server });
    await transport.reloadTls(dated('renewed-late', -HOUR, DAY));
    expect(warnings(logger.lines).map((l) => l.obj['subject'])).toEqual(['CN=renewed-late']);
    expect(await servedSubject(listener)).toBe('CN=renewed-late');
    await transport.reloadTls(certs.reloaded);
    expect(warnings(logger.lines)).toHaveLength(1);
  });

  it('re-checks once a day on one unref\'d timer per listener, which its close stops', async () => {
    const clock = new ManualClock();
    const { listener, logger } = await listenWith({ ...dated('daily', -HOUR, 5 * DAY) }, { ...nodeRuntime, clock });
    expect(warnings(logger.lines)).toHaveLength(1);
    expect({ running: clock.running, held: clock.held, periods: clock.periods }).toEqual({ running: 1, held: 0, periods: [DAY] });
    clock.advance(DAY);
    expect(warnings(logger.lines).map((l) => l.msg)).toEqual([expect.stringMatching(/in 4 days/), expect.stringMatching(/in 4 days/)]);
    await listener.close();
    expect(clock.running).toBe(0);
  });
});

describe('CertificateExpiryWatch', () => {
  it('a certificate outside the window at start is warned of once the date comes within it', () => {
    const clock = new ManualClock();
    const logger = memoryLogger();
    let now = Date.now();
    const watch = new CertificateExpiryWatch('127.0.0.1:1', logger, clock, () => now);
    watch.serving({ ...dated('weeks', -HOUR, 20 * DAY) });
    expect(logger.lines).toEqual([]);
    for (let day = 1; day <= 6; day++) {
      now += DAY;
      clock.advance(DAY);
    }
    expect(logger.lines.map((l) => l.msg)).toEqual([expect.stringMatching(/^TLS certificate CN=weeks expires at \S+Z, in 13 days/)]);
    watch.stop();
    expect(clock.running).toBe(0);
  });
});

const fixture = fileURLToPath(new URL('./fixtures/expiry-listener.ts', import.meta.url));
const tlsArg = (tls: TlsOptions): string => btoa(JSON.stringify(tls));

/**
 * The same on Bun and Deno: the check is core's, the timer the runtime's clock. The fixture
 * listens with an expired certificate, reloads to one about to expire, closes, and ends by
 * itself: a timer kept after the close would hold the process.
 */
for (const [runtime, module, name] of [
  ['bun', 'runtime-bun', 'bunRuntime'],
  ['deno', 'runtime-deno', 'denoRuntime'],
] as const) {
  describeNeeding([runtime], `on ${runtime}`, () => {
    it('warns at listen and at reload, and the process exits once the listener is closed', async () => {
      const expired = dated(`gone-${runtime}`, -10 * DAY, -DAY);
      const late = dated(`late-${runtime}`, -HOUR, 2 * DAY);
      const modulePath = fileURLToPath(new URL(`../../${module}/src/index.ts`, import.meta.url));
      const child = launch(runtime, fixture, [modulePath, name, tlsArg(expired), tlsArg(late)]);
      cleanup.push(() => reap(child));
      expect(await within(child.exited, 20_000, `the ${runtime} process to exit by itself`)).toBe(0);
      expect(child.lines).toEqual([
        expect.stringMatching(new RegExp(`^warn CN=gone-${runtime} TLS certificate CN=gone-${runtime} expired at \\S+Z: clients refuse it`)),
        expect.stringMatching(new RegExp(`^warn CN=late-${runtime} TLS certificate CN=late-${runtime} expires at \\S+Z, in 1 day`)),
        `closed on ${runtime}`,
      ]);
    });
  });
}
