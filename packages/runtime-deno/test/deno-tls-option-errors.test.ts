import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { describeNeeding, makeTestCerts, muteServer, reap, repoTool, startProcess } from '@skein/test-utils';

/*
 * A connect's own TLS options that Deno cannot use are InvalidArgument, as on Node and Bun: no
 * retry heals them (ConnPool fails its calls with it at once). Deno finds some only once TCP is
 * up, at Deno.connectTls or, for a servername other than the host, Deno.startTls; the latter
 * rejected Unreachable, as if the server had failed the handshake, and so did both for a CA
 * file Deno cannot read (`--cert`). The server never answers: each fails before any handshake.
 */

const fixture = fileURLToPath(new URL('./fixtures/tls-option-errors.ts', import.meta.url));
const arg = (tls: object): string => Buffer.from(JSON.stringify(tls)).toString('base64');
const CONNECT_TLS = {};
const START_TLS = { servername: 'localhost' };

async function connectErrors(denoFlags: string[], options: object[]): Promise<string[]> {
  const server = await muteServer();
  const port = server.address.split(':')[1]!;
  const child = startProcess(repoTool('deno'), ['run', '--allow-net', ...denoFlags, '--conditions', 'skein-source', '--sloppy-imports', fixture, port, ...options.map(arg)], { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' });
  onTestFinished(() => reap(child));
  await child.exited;
  return child.lines.filter((line) => /^(connect-error|connected)/.test(line));
}

describeNeeding(['deno'], 'deno runtime: TLS options Deno cannot use', () => {
  it('a CA file Deno cannot read (--cert: missing, or a directory) rejects with InvalidArgument, over connectTls and startTls', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'skein-cert-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    for (const [file, why] of [[path.join(dir, 'missing.pem'), /Failed opening CA file/], [dir, /Unable to add pem file to certificate store/]] as const) {
      const lines = await connectErrors(['--cert', file], [CONNECT_TLS, START_TLS]);
      expect(lines).toHaveLength(2);
      for (const line of lines) {
        expect(line).toMatch(/^connect-error InvalidArgument: tls: cannot use the certificate, key or CA given: /);
        expect(line).toMatch(why);
      }
    }
  }, 60_000);

  it('a servername Deno.startTls refuses rejects with InvalidArgument naming it', async () => {
    const lines = await connectErrors([], [{ servername: 'bad name!' }]);
    expect(lines).toEqual([expect.stringMatching(/^connect-error InvalidArgument: tls: Deno\.startTls refused the options \(servername "bad name!"\): TypeError: Invalid hostname/)]);
  }, 60_000);

  it('an X.509 v1 client certificate (openssl x509 -req without -extfile) is InvalidArgument naming tls.cert, not a "peer certificate"', async () => {
    const certs = makeTestCerts();
    onTestFinished(() => certs.remove());
    // client.csr is the test client's request: signed again with no extensions, it is v1.
    execFileSync('openssl', ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '7', '-out', 'client-v1.crt', '-days', '30'], { cwd: certs.dir, stdio: 'ignore' });
    const cert = readFileSync(path.join(certs.dir, 'client-v1.crt'), 'utf8');
    const lines = await connectErrors([], [{ ca: certs.ca, cert, key: certs.client.key }]);
    expect(lines).toEqual([expect.stringMatching(/^connect-error InvalidArgument: tls: cannot use the certificate, key or CA given: .*UnsupportedCertVersion.*tls\.cert is an X\.509 v1 certificate/)]);
  }, 60_000);
});
