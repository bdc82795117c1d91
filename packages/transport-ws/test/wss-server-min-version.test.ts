import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import type { FrameListener } from '@skein/core';
import { cleanups, describeNeeding, launch, reap, suiteCerts, testTls, within } from '@skein/test-utils';
import { wsTransport } from '../src/index.js';
import { spec } from './helpers.js';

/**
 * `minVersion: 'TLSv1.3'` on the ws server over https (docs/tls.md: "yes" under Node, Bun and
 * Deno): a TLS 1.2 client completes no handshake, a TLS 1.3 one does. Node serves here; Bun
 * (its node:tls server over each socket) and Deno run fixtures/wss-echo-server.mjs.
 */
const certs = suiteCerts();
const { serverTls, clientTls } = testTls(certs);
const cleanup = cleanups();
const HANG_MS = 20_000;
const fixture = fileURLToPath(new URL('./fixtures/wss-echo-server.mjs', import.meta.url));

/** The TLS version a node:tls client, at most `maxVersion`, agreed on, or how its handshake failed. */
async function handshake(port: number, maxVersion: tls.SecureVersion): Promise<string> {
  const sock = tls.connect({ host: '127.0.0.1', port, ...clientTls(), maxVersion });
  cleanup.push(() => sock.destroy());
  const outcome = new Promise<string>((resolve) => {
    sock.once('secureConnect', () => resolve(`handshake ${sock.getProtocol()}`));
    sock.once('error', (err) => resolve(`error ${err.message}`));
    sock.once('close', () => resolve('closed'));
  });
  return within(outcome, HANG_MS, 'the handshake or its failure');
}

async function serve(runtime: 'node' | 'bun' | 'deno'): Promise<number> {
  const tlsOptions = serverTls({ minVersion: 'TLSv1.3' as const });
  if (runtime === 'node') {
    const listener: FrameListener = await wsTransport({ tls: tlsOptions }).listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => conn.bind({ frame() {}, drain() {}, close() {} }));
    cleanup.push(() => listener.close());
    return (listener.address as { port: number }).port;
  }
  const child = launch(runtime, fixture, [JSON.stringify(tlsOptions)]);
  cleanup.push(() => reap(child));
  return Number((await child.waitForLine(/^listening (\d+)$/, HANG_MS))[1]);
}

for (const runtime of ['node', 'bun', 'deno'] as const) {
  describeNeeding(runtime === 'node' ? [] : [runtime], `the ws server over https on ${runtime}`, () => {
    it("with minVersion 'TLSv1.3' completes no handshake with a TLS 1.2 client, and one with a TLS 1.3 client", async () => {
      const port = await serve(runtime);
      expect(await handshake(port, 'TLSv1.3')).toBe('handshake TLSv1.3');
      expect(await handshake(port, 'TLSv1.2')).toMatch(/^error .*(protocol version|unsupported protocol)/i);
    });
  });
}
