import tls from 'node:tls';
import { expect, it, onTestFinished } from 'vitest';
import { suiteCerts } from './certs.js';
import { describeNeeding } from './needs-tool.js';
import type { Proc } from './process.js';
import type { RuntimeHarness } from './runtime-conformance.js';
import { tlsArg } from './tls-scenarios.js';
import { within } from './wait.js';

const HANG_MS = 20_000;

/**
 * reloadTls leaves the connections already up alone (docs/tls.md, "Certificate reload"): on Bun
 * and Deno the listener is closed and opened again, which must not take its accepted
 * connections with it. tlsRuntimeConformance checks that later connections get the new
 * certificate; this, that one accepted before the reload still echoes after it.
 */
export function tlsReloadKeepsConformance(h: RuntimeHarness): void {
  describeNeeding([h.runtime], `${h.runtime} runtime: TLS reload`, () => {
    const certs = suiteCerts();

    it('a connection accepted before reloadTls keeps its session and is served after it; later ones get the new certificate', async () => {
      // tls-echo-server reloads once its first connection closes: `trigger` below.
      const child: Proc = h.start([h.runtime, 'tls-echo-server', '127.0.0.1:0', tlsArg(certs.server), tlsArg(certs.reloaded)]);
      onTestFinished(() => child.kill('SIGKILL'));
      const [, address] = await child.waitForLine(/^listening (\S+)$/, HANG_MS);
      const port = Number(address!.slice(address!.lastIndexOf(':') + 1));
      const connect = (): Promise<Echo> => echoClient(port, certs.ca);

      const kept = await connect();
      expect(await kept.echo('before')).toBe('before');
      const trigger = await connect();
      trigger.close();
      await child.waitForLine(/^reloaded$/, HANG_MS);
      expect(await kept.echo('after')).toBe('after');
      expect(kept.served).toBe('localhost');
      const later = await connect();
      expect(later.served).toBe('reloaded');
      expect(await later.echo('new')).toBe('new');
      later.close();
      kept.close();
    });
  });
}

interface Echo {
  /** The CN of the certificate it was served. */
  readonly served: string;
  echo(text: string): Promise<string>;
  close(): void;
}

/** A node:tls connection kept open, which sends text and waits for it back. */
async function echoClient(port: number, ca: string): Promise<Echo> {
  const sock = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: ['skein'] });
  onTestFinished(() => void sock.destroy());
  await within(new Promise((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject)), HANG_MS, 'the TLS handshake');
  let received = '';
  let waiting: { text: string; resolve: (t: string) => void; reject: (e: Error) => void } | undefined;
  sock.on('data', (d: Buffer) => {
    received += d.toString();
    if (waiting && received === waiting.text) (waiting.resolve(received), (received = ''), (waiting = undefined));
  });
  sock.on('close', () => waiting?.reject(new Error(`closed having echoed "${received}"`)));
  sock.on('error', () => {});
  return {
    served: String(sock.getPeerCertificate().subject.CN),
    echo: (text) => {
      const back = new Promise<string>((resolve, reject) => (waiting = { text, resolve, reject }));
      sock.write(text);
      return within(back, HANG_MS, `the echo of "${text}"`);
    },
    close: () => void sock.end(),
  };
}
