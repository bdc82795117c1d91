import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { TlsOptions, Transport } from '@skein/core';
import { cleanups, itNeeding, launch, memoryLogger, reap, signServerCertDated, suiteCerts, within, type CertPair, type LogLine, type RuntimeName } from '@skein/test-utils';
import { uwsTransport, wsTransport } from '../src/index.js';
import { spec } from './helpers.js';

const certs = suiteCerts();
const cleanup = cleanups();
const DAY = 24 * 3600_000;

const dated = (name: string, from: number, to: number): CertPair => signServerCertDated(certs, name, new Date(Date.now() + from), new Date(Date.now() + to));
const warned = (lines: readonly LogLine[]): unknown[] => lines.filter((l) => l.level === 'warn').map((l) => l.obj['subject']);

async function listen(transport: Transport): Promise<void> {
  const listener = await transport.listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => conn.close());
  cleanup.push(() => listener.close());
}

/** Used without RpcServer, the ws transports log a certificate's dates to their own `logger`. */
describe('wss listeners warn of a certificate expired or about to expire', () => {
  it.each<[string, (tls: TlsOptions, logger: ReturnType<typeof memoryLogger>) => Transport]>([
    ['ws', (tls, logger) => wsTransport({ tls, logger })],
    ['uWebSockets.js', (tls, logger) => uwsTransport({ tls, logger })],
  ])('%s: a warn line at listen for an expired one, none for one valid for 30 days', async (name, transportWith) => {
    const logger = memoryLogger();
    await listen(transportWith(dated(`gone-${name.slice(0, 2)}`, -10 * DAY, -DAY), logger));
    expect(warned(logger.lines)).toEqual([`CN=gone-${name.slice(0, 2)}`]);
    const quiet = memoryLogger();
    await listen(transportWith(certs.server, quiet));
    expect(warned(quiet.lines)).toEqual([]);
  });

  it('ws: reloadTls to one about to expire warns then', async () => {
    const logger = memoryLogger();
    const transport = wsTransport({ tls: certs.server, logger });
    await listen(transport);
    await transport.reloadTls(dated('late', -DAY, DAY));
    expect(warned(logger.lines)).toEqual(['CN=late']);
  });
});

const fixture = fileURLToPath(new URL('./fixtures/wss-expiry-exit.mjs', import.meta.url));
const arg = (tls: TlsOptions): string => btoa(JSON.stringify(tls));

/** The listener's daily check is one timer, stopped at its close: the process then ends by itself. */
describe('a closed wss listener keeps no timer', () => {
  const cases: [RuntimeName, 'ws' | 'uws'][] = [['node', 'ws'], ['node', 'uws'], ['bun', 'ws'], ['deno', 'ws']];
  for (const [runtime, server] of cases) {
    itNeeding(runtime === 'node' ? [] : [runtime], `${server} on ${runtime}: warns, and the process exits once the listener is closed`, async () => {
      const child = launch(runtime, fixture, [server, arg(dated(`soon-${runtime}`, -DAY, DAY)), arg(dated(`late-${runtime}`, -DAY, DAY))]);
      cleanup.push(() => reap(child));
      expect(await within(child.exited, 20_000, `the ${runtime} process to exit by itself`)).toBe(0);
      expect(child.lines).toEqual([`warn CN=soon-${runtime}`, ...(server === 'ws' ? [`warn CN=late-${runtime}`] : []), 'closed']);
    });
  }
});
