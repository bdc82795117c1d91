import type net from 'node:net';
import tls from 'node:tls';
import { expect, it, onTestFinished } from 'vitest';
import { suiteCerts } from './certs.js';
import { describeNeeding } from './needs-tool.js';
import type { TlsHarness } from './tls-conformance.js';
import { tlsArg } from './tls-scenarios.js';

const HANG_MS = 20_000;

/**
 * `minVersion` on the client side of a runtime's connect: the listen side is checked by
 * tlsRuntimeConformance, the client's nowhere else. A child runs `tls-call` on the runtime
 * under test against a node:tls server here that speaks TLS 1.2 at most and counts the
 * handshakes it completed.
 */
export function tlsClientVersionConformance(h: TlsHarness): void {
  describeNeeding([h.runtime], `${h.runtime} runtime: TLS client minVersion`, () => {
    const certs = suiteCerts();

    const tls12Server = async (): Promise<{ port: number; handshakes: () => number }> => {
      let handshakes = 0;
      const server = tls.createServer({ ...certs.server, maxVersion: 'TLSv1.2', ALPNProtocols: ['skein'] }, (sock) => {
        handshakes++;
        sock.on('data', (d) => sock.write(d));
        sock.on('error', () => {});
      });
      server.on('tlsClientError', () => {});
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      onTestFinished(() => void server.close());
      return { port: (server.address() as net.AddressInfo).port, handshakes: () => handshakes };
    };

    const call = async (port: number, extra: object): Promise<string> => {
      const child = h.start([h.runtime, 'tls-call', `127.0.0.1:${port}`, tlsArg({ ca: certs.ca, servername: 'localhost', ...extra })]);
      onTestFinished(() => child.kill('SIGKILL'));
      return (await child.waitForLine(/^(?:connect-error|echoed|closed-error) .*$/, HANG_MS))[0];
    };

    it(
      h.tls13Only ? "minVersion 'TLSv1.3' on connect completes no handshake with a TLS 1.2 server: Unreachable" : "refuses minVersion 'TLSv1.3' on connect with InvalidArgument",
      async () => {
        const server = await tls12Server();
        // The server serves a client that asks for no more than TLS 1.2.
        expect(await call(server.port, {})).toMatch(/^echoed ping/);
        const served = server.handshakes();
        const outcome = await call(server.port, { minVersion: 'TLSv1.3' });
        expect(outcome).toMatch(h.tls13Only ? /^connect-error Unreachable: TLS handshake with / : /^connect-error InvalidArgument: .*minVersion/);
        expect(server.handshakes()).toBe(served);
      },
    );
  });
}
