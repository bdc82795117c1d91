// The kit's spec-call check (src/spec-calls.ts), on both sides of the transport: it passes this
// repository's transports (TCP, TLS, ws, wss, uWS) and one that copies each spec ({ ...spec }),
// and names one that calls a spec's bodyLength detached, on each spec it was handed.
import type { Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { ClientStream, createRouter } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { uwsTransport, wsTransport } from '@skein/transport-ws';
import { suiteCerts, testTls } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { watchSpecCalls } from '../src/spec-calls.js';
import { checkServers, passesRightTransports } from './check-servers.js';
import { mutantTransport } from './mutant-transports.js';

const serve = checkServers();
const certs = suiteCerts();

/** Calls both ways: a message and a blob each way (so every spec reads a body), through specs watched on `server` and on `client`. */
const problemsOf = async (server: Transport, client: Transport, tls = false): Promise<string[]> => {
  const served = watchSpecCalls(server);
  const calling = watchSpecCalls(client);
  const address = { ...(await serve(served.transport, createRouter({ 1: (req) => ({ msg: req.msg, blob: req.blob }) }))), ...(tls && { tls: true }) };
  const stream = await ClientStream.connect({ transport: calling.transport, address });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await stream.call(1, new Uint8Array([i, 1, 2]), { blob: new Uint8Array(70_000).fill(i) });
      expect([r.msg.length, r.blob.length]).toEqual([3, 70_000]);
    }
  } finally {
    await stream.close();
  }
  return [...served.detached(), ...calling.detached()];
};

describe('the spec-call check', () => {
  const tcp = tcpTransport(runtime);
  passesRightTransports(problemsOf);

  it('passes TLS over TCP, ws over TLS, and uWS (its own server, the ws client)', async () => {
    const { serverTls, clientTls } = testTls(certs);
    expect(await problemsOf(tcpTransport(runtime, { tls: serverTls() }), tcpTransport(runtime, { tls: clientTls() }), true)).toEqual([]);
    expect(await problemsOf(wsTransport({ tls: serverTls() }), wsTransport({ tls: clientTls() }), true)).toEqual([]);
    expect(await problemsOf(uwsTransport(), wsTransport())).toEqual([]);
  });

  it('passes a transport that copies each spec ({ ...spec }) and calls the copy\'s bodyLength', async () => {
    const copying = mutantTransport(tcp, { copiesSpec: true });
    expect(await problemsOf(copying, copying)).toEqual([]);
  });

  it('names a transport that calls bodyLength detached, on each spec it was handed', async () => {
    const detaching = mutantTransport(tcp, { detachesBodyLength: true });
    const rule =
      String.raw`not the spec nor a copy of it: call it as the spec's method, spec\.bodyLength\(bytes, at\) \(core's frameBodyLength\(spec, bytes, at\) does\), never as a function taken off the spec`;
    expect(await problemsOf(detaching, detaching)).toEqual([
      expect.stringMatching(new RegExp(String.raw`^a server connection's spec \(setFrameSpec\): bodyLength was called with \`this\` undefined \(called detached\) \(\d+ times\), ${rule}`)),
      expect.stringMatching(new RegExp(String.raw`^a client connection's spec \(connect\): bodyLength was called with \`this\` undefined \(called detached\) \(\d+ times\), ${rule}`)),
    ]);
  });
});
