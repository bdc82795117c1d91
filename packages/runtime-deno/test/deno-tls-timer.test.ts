import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { RUNTIME_SCENARIO, describeNeeding, launch, makeTestCerts, reap, type TestCerts } from '@skein/test-utils';

const runtimeModule = fileURLToPath(new URL('../src/index.ts', import.meta.url));
const tlsArg = (o: object): string => btoa(JSON.stringify(o));

describeNeeding(['deno'], 'deno runtime: TLS timer bounds', () => {
  // A valid handshakeTimeoutMs past setTimeout's 2^31-1 ms limit must not overflow to ~1 ms,
  // which would close every accepted TLS connection before its handshake.
  it('keeps an accepted TLS connection whose handshakeTimeoutMs is past the timer limit', async () => {
    const certs: TestCerts = makeTestCerts();
    onTestFinished(() => certs.remove());
    const child = launch('deno', RUNTIME_SCENARIO, [runtimeModule, 'deno', 'tls-echo-server', '127.0.0.1:0', tlsArg({ cert: certs.server.cert, key: certs.server.key, handshakeTimeoutMs: 2 ** 32 })]);
    onTestFinished(() => reap(child));
    const port = Number((await child.waitForLine(/^listening \S+:(\d+)$/))[1]);
    const raw = net.connect({ host: '127.0.0.1', port });
    raw.on('error', () => {});
    onTestFinished(() => void raw.destroy());
    // The handshake starts only once the server holds the connection (and its timer runs).
    await child.waitForLine(/^accepted$/);
    const sock = tls.connect({ socket: raw, ca: certs.ca, servername: 'localhost' });
    const echoed = await new Promise<string>((resolve, reject) => {
      sock.once('error', reject);
      sock.once('close', () => reject(new Error('closed before the echo')));
      sock.once('secureConnect', () => sock.write('ping'));
      sock.once('data', (d: Buffer) => resolve(d.toString()));
    });
    expect(echoed).toBe('ping');
    sock.end(); // close_notify, then FIN: a clean close
    const [, err] = await child.waitForLine(/^conn-closed data=1 err=(.*)$/);
    expect(err).toBe('none');
  });
});
