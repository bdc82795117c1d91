import { cleanups, makeTestCerts, type TestCerts } from '@skein/test-utils';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skein } from './skein-bin.js';

// `skein servers --etcd http://...` for an etcd that serves TLS: gRPC's plaintext is hung up on,
// and its error says only "Failed to connect". A TLS server stands in for that etcd's port (what
// the CLI asks of it, a handshake, is all of TLS it sees; a real etcd 3.4 with --cert-file answers
// the same, tried by hand).

let certs: TestCerts;
const cleanup = cleanups();
beforeAll(() => {
  certs = makeTestCerts();
});
afterAll(() => certs?.remove());

async function tlsServer(): Promise<string> {
  const server = tls.createServer({ cert: certs.server.cert, key: certs.server.key });
  server.on('tlsClientError', () => {}); // gRPC's plaintext: refused by the handshake, as etcd does
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('skein servers against a TLS port given as http://', () => {
  it('fails Unreachable (exit 1) and says the server answered a TLS handshake', async () => {
    const url = await tlsServer();
    const r = await skein('servers', '--etcd', url, '--timeout', '5000');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Unreachable \(rpc_unreachable\): cannot read skein\/servers\/ from etcd at /);
    expect(r.stderr).toContain(`(${url} answered a TLS handshake: did the server expect TLS? skein servers reads plain http:// etcd only; read a TLS etcd with etcdctl --endpoints https://...)\n`);
  });

  it('says so with a --timeout past what a timer holds too: the probe waits at most that long, not 1 ms, and Node warns of nothing', async () => {
    const url = await tlsServer();
    const r = await skein('servers', '--etcd', url, '--timeout', '99999999999');
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('TimeoutOverflowWarning');
    expect(r.stderr).toContain(`(${url} answered a TLS handshake: did the server expect TLS?`);
  });
});
