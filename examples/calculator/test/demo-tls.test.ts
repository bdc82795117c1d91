import { freePort, startProcess, suiteCerts, within } from '@skein/test-utils';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The built demo, as `pnpm demo` runs it; the certificates are the tests' throwaway CA's.
const demo = fileURLToPath(new URL('../dist/demo.js', import.meta.url));
const certs = suiteCerts();
const file = (name: string): string => path.join(certs.dir, name);

/** `pnpm demo --serve` with the given TLS flags; resolves once it listens. */
async function serve(tlsFlags: string[]) {
  const port = await freePort();
  const proc = startProcess(process.execPath, [demo, '--serve', '--port', String(port), ...tlsFlags]);
  const line = (await proc.waitForLine(/listening on /)).input!;
  return { proc, line, address: `tls://127.0.0.1:${port}` };
}

/** The demo client against `address`: its exit code and output. */
async function connect(address: string, tlsFlags: string[]) {
  const proc = startProcess(process.execPath, [demo, '--connect', address, '--seconds', '0.1', '--in-flight', '4', ...tlsFlags]);
  const code = await within(proc.exited, 30_000, 'demo client');
  return { code, out: proc.lines.join('\n') };
}

const serverCert = () => ['--tls-cert', file('server.crt'), '--tls-key', file('server.key')];
const clientCert = () => ['--tls-cert', file('client.crt'), '--tls-key', file('client.key')];
const trustCa = () => ['--tls-ca', file('ca.crt')];

function expectTour(out: string): void {
  expect(out).toMatch(/add\(\{ a: 1, b: 2 \}\)\s+= 3/);
  expect(out).toMatch(/threw DivideByZero/);
  expect(out).toMatch(/\d+ calls in [\d.]+ s/);
}

describe('the demo over TLS (--tls-cert, --tls-key, --tls-ca)', () => {
  it('serves TLS with --tls-cert and --tls-key; a client trusting the CA makes its calls', async () => {
    const server = await serve(serverCert());
    try {
      expect(server.line).toMatch(/listening on tls:\/\/127\.0\.0\.1:\d+ \(codec msgpack, TLS\)/);
      const client = await connect(server.address, trustCa());
      expect(client.code, client.out).toBe(0);
      expectTour(client.out);
    } finally {
      server.proc.kill('SIGTERM');
    }
  });

  it('requires a client certificate with --tls-ca (mTLS): one from the CA gets in, none is refused saying so', async () => {
    const server = await serve([...serverCert(), ...trustCa()]);
    try {
      expect(server.line).toMatch(/mTLS: client certificates required/);
      const good = await connect(server.address, [...trustCa(), ...clientCert()]);
      expect(good.code, good.out).toBe(0);
      expectTour(good.out);

      const bare = await connect(server.address, trustCa());
      expect(bare.code).not.toBe(0);
      expect(bare.out).toMatch(/refused the TLS connection/);
      expect(bare.out).toMatch(/the server wants a client certificate/);
      expect(bare.out).not.toMatch(/add\(\{ a: 1, b: 2 \}\)\s+= 3/);
      await server.proc.waitForLine(/peer did not return a certificate/);
    } finally {
      server.proc.kill('SIGTERM');
    }
  });
});
