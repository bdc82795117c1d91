import https from 'node:https';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { describe, expect, it } from 'vitest';
import { ErrorCode, type FrameListener } from '@skein/core';
import { cleanups, describeNeeding, launch, reap, suiteCerts, testTls, type Proc } from '@skein/test-utils';
import { wsTransport } from '../src/index.js';
import { spec } from './helpers.js';

/**
 * The wss client's `servername` and `minVersion`, on every runtime's default client (ws under
 * Node and Deno, Bun's own WebSocket): a servername overrides the host the certificate is checked
 * against, both ways, and `minVersion: 'TLSv1.3'` completes no TLS 1.2 handshake. Bun and Deno
 * run fixtures/wss-dial.mjs; Node dials in this process.
 */
const certs = suiteCerts();
const { serverTls } = testTls(certs);
const cleanup = cleanups();
const HANG_MS = 20_000;
const fixture = fileURLToPath(new URL('./fixtures/wss-dial.mjs', import.meta.url));

/** A wss echo server on every address, with `localhost`'s certificate (localhost, 127.0.0.1, ::1). */
async function echoServer(): Promise<number> {
  const listener: FrameListener = await wsTransport({ tls: serverTls() }).listen({ host: '0.0.0.0', port: 0 }, spec, (conn) =>
    conn.bind({ frame: (bytes, start, end) => conn.write(bytes.subarray(start, end)), drain() {}, close() {} }),
  );
  cleanup.push(() => listener.close());
  return (listener.address as { port: number }).port;
}

/**
 * A ws echo server over https that speaks TLS 1.2 at most, counting the TLS handshakes it
 * completed: a client that ignores its minVersion is served (and echoed) there.
 */
async function tls12EchoServer(): Promise<{ port: number; handshakes: () => number }> {
  let handshakes = 0;
  const server = https.createServer({ ...serverTls(), maxVersion: 'TLSv1.2' });
  server.on('secureConnection', () => handshakes++);
  server.on('tlsClientError', () => {});
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => (wss.close(), server.closeAllConnections(), new Promise((resolve) => server.close(resolve))));
  return { port: (server.address() as AddressInfo).port, handshakes: () => handshakes };
}

type Dial = (host: string, port: number, tls: object) => Promise<string>;

/** Node: wsTransport's ws client, here. The outcome as the fixture prints it. */
const nodeDial: Dial = async (host, port, tls) => {
  try {
    const conn = await wsTransport({ tls }).connect({ host, port }, spec, { timeoutMs: HANG_MS });
    const echoed = new Promise<string>((resolve) => conn.bind({ frame: () => resolve('echoed'), drain() {}, close: (err) => resolve(`closed ${err?.message}`) }));
    conn.write(new Uint8Array([2, 0, 0, 0, 104, 105]));
    const outcome = await echoed;
    conn.close();
    return outcome;
  } catch (err) {
    return `failed ${(err as { code?: number }).code} ${(err as Error).message}`;
  }
};

/** Bun or Deno: the fixture on that runtime's default WebSocket client. */
const childDial =
  (runtime: 'bun' | 'deno'): Dial =>
  async (host, port, tls) => {
    const child: Proc = launch(runtime, fixture, [host, String(port), JSON.stringify(tls)]);
    cleanup.push(() => reap(child));
    return (await child.waitForLine(/^(echoed|failed .*)$/, HANG_MS))[0];
  };

for (const [runtime, dial] of [['node', nodeDial], ['bun', childDial('bun')], ['deno', childDial('deno')]] as const) {
  describeNeeding(runtime === 'node' ? [] : [runtime], `the wss client on ${runtime}`, () => {
    it('checks the server against tls.servername, not the host dialled: a name not on the certificate is refused at an address that is', async () => {
      const port = await echoServer();
      expect(await dial('127.0.0.1', port, { ca: certs.ca })).toBe('echoed');
      const outcome = await dial('127.0.0.1', port, { ca: certs.ca, servername: 'not-on-the-cert.example' });
      expect(outcome).toMatch(new RegExp(`^failed ${ErrorCode.Unreachable} `));
      // ws says why (Node's altname check); Bun's WebSocket says only that it closed.
      if (runtime !== 'bun') expect(outcome).toMatch(/not-on-the-cert\.example.*altnames/);
    });

    it('a tls.servername on the certificate lets it reach the server at a host name the certificate does not carry', async () => {
      const port = await echoServer();
      // The test host's own name resolves to this machine but is not on the certificate.
      expect(await dial(os.hostname(), port, { ca: certs.ca })).toMatch(new RegExp(`^failed ${ErrorCode.Unreachable} `));
      expect(await dial(os.hostname(), port, { ca: certs.ca, servername: 'localhost' })).toBe('echoed');
    });

    it("minVersion 'TLSv1.3' completes no handshake with a TLS 1.2 server, and fails to connect", async () => {
      const server = await tls12EchoServer();
      // The server serves a client that does not ask for more.
      expect(await dial('127.0.0.1', server.port, { ca: certs.ca, servername: 'localhost' })).toBe('echoed');
      const served = server.handshakes();
      const outcome = await dial('127.0.0.1', server.port, { ca: certs.ca, servername: 'localhost', minVersion: 'TLSv1.3' });
      expect(outcome).toMatch(new RegExp(`^failed ${ErrorCode.Unreachable} `));
      expect(server.handshakes()).toBe(served);
    });
  });
}

describe('the standard WebSocket client of browsers (and Deno, when chosen)', () => {
  it("refuses minVersion 'TLSv1.3' with InvalidArgument: it cannot ask for a TLS version, and must not connect over TLS 1.2 silently", async () => {
    class NeverDialled {
      constructor() {
        throw new Error('dialled');
      }
    }
    const transport = wsTransport({ tls: { minVersion: 'TLSv1.3' }, WebSocket: NeverDialled as never });
    await expect(transport.connect({ host: 'localhost', port: 1 }, spec)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/minVersion/) });
  });
});
