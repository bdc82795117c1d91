import { createRouter, RpcServer } from '@skein/stream';
import { nodeRuntime } from '@skein/runtime-node';
import { portOf, suiteCerts, testTls } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skein } from './skein-bin.js';

// An operator dials an mTLS server without --cert/--key. Over TLS 1.3 the server's refusal
// (alert "certificate required") arrives after the client's handshake is done, on the first
// read, so the stream reports a lost connection whose cause is the TLS layer's Unauthenticated.
// The CLI must say that (the server wants a client certificate), not guess that the server
// speaks another transport: the address form was right, the credentials were missing.

const certs = suiteCerts();
const { mtls } = testTls(certs);
let server: RpcServer;
let address: string;
beforeAll(async () => {
  server = new RpcServer({ dispatch: createRouter({ 'S.who': () => new TextEncoder().encode('"s"') }) });
  const bound = await server.listen(tcpTransport(nodeRuntime, { tls: mtls() }), '127.0.0.1:0');
  address = `tls://127.0.0.1:${portOf(bound)}`;
});
afterAll(async () => {
  await server?.close();
});

describe('an mTLS server refusing a client with no certificate', () => {
  it.each(['call', 'ping'] as const)('%s says the server wants a client certificate, and gives no wrong-transport hint', async (command) => {
    const args = command === 'call' ? [command, address, 'S.who'] : [command, address];
    const r = await skein(...args, '--ca', path.join(certs.dir, 'ca.crt'), '--timeout', '5000');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Unauthenticated \(rpc_unauthenticated\): .*refused the TLS connection/);
    // In the CLI's own words: its flags, not the tls.cert and tls.key options a program gives.
    expect(r.stderr).toMatch(/the server wants a client certificate its CAs vouch for: check --cert, --key\)/);
    expect(r.stderr).not.toMatch(/tls\.(cert|key)/);
    expect(r.stderr).not.toMatch(/is tls:\/\/.* a Skein server over tls\?/);
    // OpenSSL's message ends in a newline; it is not shown as an escape mid-line.
    expect(r.stderr).not.toContain('\\u000a');
  });

  it('a --key that is not the --cert\'s key is refused naming the flags, exit 2', async () => {
    const r = await skein('ping', address, '--ca', path.join(certs.dir, 'ca.crt'), '--cert', path.join(certs.dir, 'client.crt'), '--key', path.join(certs.dir, 'server.key'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: InvalidArgument \(rpc_invalid_argument\): .*--key is not the private key of --cert: /);
    expect(r.stderr).not.toMatch(/tls\.(cert|key)/);
  });

  it('with --cert and --key it is answered', async () => {
    const r = await skein('ping', address, '--ca', path.join(certs.dir, 'ca.crt'), '--cert', path.join(certs.dir, 'client.crt'), '--key', path.join(certs.dir, 'client.key'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
