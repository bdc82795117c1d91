import { createRouter, RpcServer } from '@skein/stream';
import { nodeRuntime } from '@skein/runtime-node';
import { damagedPems, encryptedKeyOf, freePort, portOf, suiteCerts, testTls } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { resolveTls, tlsFailure, type TlsOptions } from '@skein/core';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inFlagWords } from '../src/flag-words.js';
import { skein } from './skein-bin.js';

// The CLI names its flags (--cert, --key, --ca, --servername) where core's TLS errors name a
// program's options, and only there: the same word anywhere else is the operator's (a socket
// path `unix:tls.key`, an etcd prefix, a host), and an error must quote it as typed. Core's
// messages here come from real listens and connects refused for their options; the operator's
// words from real failed CLI runs.

const certs = suiteCerts();
const OPTION = /\btls\.(cert|key|ca|servername)\b/g;

async function listenRefusal(tls: TlsOptions): Promise<string> {
  const server = new RpcServer({ dispatch: createRouter({}) });
  try {
    await server.listen(tcpTransport(nodeRuntime, { tls }), '127.0.0.1:0');
  } catch (err) {
    return (err as Error).message;
  } finally {
    await server.close();
  }
  throw new Error(`listen with ${Object.keys(tls).join(', ')} was not refused`);
}

/** What `f` throws: core's refusals that no listen or connect of this runtime reaches. */
function thrown(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('nothing was thrown');
}

describe('every option core names in a TLS error', () => {
  it('is named as its flag, each one, and nothing else in the message changes', async () => {
    const { cert, key } = certs.server;
    const damagedChain = damagedPems(certs.ca).find((d) => d.block === 2)!.pem;
    const messages = [
      await listenRefusal({ cert }),
      await listenRefusal({}),
      await listenRefusal({ cert: key, key: cert }),
      await listenRefusal({ cert, key: cert }),
      await listenRefusal({ cert: '', key }),
      await listenRefusal({ cert: 'certs/server.crt', key }),
      await listenRefusal({ cert, key: encryptedKeyOf(certs, 'server') }),
      await listenRefusal({ cert, key, ca: [] }),
      await listenRefusal({ cert, key, ca: 'nothing' }),
      await listenRefusal({ cert, key, ca: damagedChain }),
      await listenRefusal({ cert, key, ca: [certs.ca, damagedChain] }),
      await listenRefusal({ cert: cert + damagedChain.slice(certs.ca.length), key }),
      await listenRefusal({ cert, key: certs.client.key }),
      await listenRefusal({ cert, key, requestCert: true }),
      await listenRefusal({ cert, key, servername: 'localhost' }),
      // A transport drops requestCert for its connects (one transport's options serve and dial).
      thrown(() => resolveTls({ requestCert: true }, 'connect')),
      // The hints of a refused handshake, in core's words for each kind of refusal.
      tlsFailure('tls://127.0.0.1:4000', 'alert certificate required').message,
      tlsFailure('tls://127.0.0.1:4000', 'sslv3 alert handshake failure', undefined, { presentedCert: false }).message,
      tlsFailure('tls://127.0.0.1:4000', 'write EPIPE', undefined, { presentedCert: false }).message,
      tlsFailure('tls://127.0.0.1:4000', 'unexpected eof', undefined, { presentedCert: false, serverSpokeTls: true }).message,
    ];
    for (const message of messages) {
      expect(message).toMatch(/\btls\.(cert|key|ca|servername)\b/);
      expect(inFlagWords(message)).toBe(message.replace(OPTION, '--$1'));
    }
  });

  it('keeps a host or a path beside an option as typed', () => {
    // runtime-deno's refusal of a servername it cannot check, for a server named tls.key dialled at tls.ca.
    const deno = 'tls.servername tls.key with a client certificate: Deno checks the server against the host it dials (tls.ca); dial tls.key instead';
    expect(inFlagWords(deno)).toBe('--servername tls.key with a client certificate: Deno checks the server against the host it dials (tls.ca); dial tls.key instead');
  });
});

describe('an operator\'s word that is an option\'s name', () => {
  const { serverTls } = testTls(certs);
  let server: RpcServer;
  let address: string;
  beforeAll(async () => {
    server = new RpcServer({ dispatch: createRouter({}) });
    address = `tls://127.0.0.1:${portOf(await server.listen(tcpTransport(nodeRuntime, { tls: serverTls() }), '127.0.0.1:0'))}`;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a Unix socket path: unix:tls.key is quoted as typed', async () => {
    expect(existsSync('tls.key')).toBe(false);
    const r = await skein('ping', 'unix:tls.key', '--timeout', '5000');
    expect(r.stderr).toBe('error: Unreachable (rpc_unreachable): cannot connect to unix:tls.key: connect ENOENT tls.key\n');
    expect(r.code).toBe(1);
  });

  it('an etcd prefix: --prefix tls.ca is quoted as typed', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const r = await skein('servers', '--etcd', url, '--prefix', 'tls.ca', '--timeout', '1500');
    expect(r.stderr).toMatch(/^error: Unreachable \(rpc_unreachable\): cannot read tls\.ca\/ from etcd at /);
    expect(r.stderr).not.toContain('--');
    expect(r.code).toBe(1);
  });

  it('a --servername the certificate lacks: the host TLS names is quoted as typed', async () => {
    const r = await skein('ping', address, '--ca', `${certs.dir}/ca.crt`, '--servername', 'tls.key', '--timeout', '5000');
    expect(r.stderr).toContain('Host: tls.key.');
    expect(r.stderr).not.toContain('--key');
    expect(r.code).toBe(1);
  });
});
