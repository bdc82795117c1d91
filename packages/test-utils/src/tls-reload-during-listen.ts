import tls from 'node:tls';
import type { Address, FrameConn, FrameSpec, TlsOptions, Transport } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { suiteCerts, testTls } from './certs.js';
import { cleanups } from './cleanups.js';
import { within } from './wait.js';

const HANG_MS = 10_000;

/** A transport under test, made from TLS options, and the frames it carries. */
export interface TlsReloadDuringListenHarness {
  readonly name: string;
  transport(tls: TlsOptions): Transport;
  readonly spec: FrameSpec;
}

/**
 * The CN of the certificate the TLS listener at `address` presents, read by Node's own TLS client
 * trusting `ca` (with `client`'s options too: a certificate for mTLS, a `maxVersion`); the
 * connection is closed by `cleanup`. A handshake the server refuses rejects.
 */
export function servedCommonName(address: Address, ca: string, cleanup: (() => unknown)[], client: tls.ConnectionOptions = {}): Promise<string | undefined> {
  const at = 'path' in address ? { path: address.path } : { host: address.host, port: address.port };
  const socket = tls.connect({ ...at, ca, servername: 'localhost', ...client });
  cleanup.push(() => socket.destroy());
  const cn = new Promise<string | undefined>((resolve, reject) => {
    socket.once('secureConnect', () => resolve(socket.getPeerCertificate().subject?.CN as string | undefined));
    socket.once('error', reject);
  });
  return within(cn, HANG_MS, 'the TLS handshake');
}

/**
 * `Transport.reloadTls` and a `listen` under way at once (docs/tls.md, "Certificate reload"):
 * the listener serves the reloaded certificate, whichever was called first. A reload applied
 * while a listen was opening found no listener to give it to, so the listener served the
 * certificate the transport had before, its expiry watched as the new one's.
 */
export function tlsReloadDuringListenConformance(h: TlsReloadDuringListenHarness): void {
  describe(`${h.name}: reloadTls and a listen at once`, () => {
    const certs = suiteCerts();
    const { serverTls } = testTls(certs);
    const cleanup = cleanups();

    const keep = (conn: FrameConn): void => {
      conn.bind({ frame() {}, drain() {}, close() {} });
      cleanup.push(() => conn.close());
    };

    const served = (address: Address): Promise<string | undefined> => servedCommonName(address, certs.ca, cleanup);

    it('a listen called right after a reload serves the reloaded certificate', async () => {
      const t = h.transport(serverTls());
      const reload = t.reloadTls!(certs.reloaded);
      const l = await t.listen({ host: '127.0.0.1', port: 0 }, h.spec, keep);
      cleanup.push(() => l.close());
      await reload;
      expect(await served(l.address)).toBe('reloaded');
    });

    it('a reload applied while a listen is opening reaches its listener', async () => {
      const t = h.transport(serverTls());
      const listening = t.listen({ host: '127.0.0.1', port: 0 }, h.spec, keep);
      await t.reloadTls!(certs.reloaded);
      const l = await listening;
      cleanup.push(() => l.close());
      expect(await served(l.address)).toBe('reloaded');
    });

    it('a reload at any point of a listen\'s opening reaches its listener', async () => {
      // A reload after 0 to 39 ticks and loop turns (process.nextTick and setImmediate in turn): some
      // land while the listen binds, whose 'listening' comes on a tick (ws) or a turn.
      for (let turns = 0; turns < 40; turns++) {
        const t = h.transport(serverTls());
        const listening = t.listen({ host: '127.0.0.1', port: 0 }, h.spec, keep);
        for (let i = 0; i < turns; i++) await new Promise((resolve) => (i % 2 === 0 ? process.nextTick(resolve) : setImmediate(resolve)));
        await t.reloadTls!(certs.reloaded);
        const l = await listening;
        cleanup.push(() => l.close());
        expect([turns, await served(l.address)]).toEqual([turns, 'reloaded']);
      }
    });

    it('reloads on both sides of a listen: its listener ends with the last, merged over the first', async () => {
      const t = h.transport(serverTls());
      const first = t.reloadTls!(certs.reloaded);
      const listening = t.listen({ host: '127.0.0.1', port: 0 }, h.spec, keep);
      // Only the CA: the certificate stays the first reload's.
      const second = t.reloadTls!({ ca: certs.ca });
      const l = await listening;
      cleanup.push(() => l.close());
      await Promise.all([first, second]);
      expect(await served(l.address)).toBe('reloaded');
    });
  });
}
