// The kit's connect-timeout check (src/connect-timeout.ts), on the client side of the transport:
// it passes this repository's TCP (no handshake of its own: up at once, not judged) and ws
// transports, also over TLS, and names a connect that drops its timeoutMs, and one that leaves a
// socket open when it gives up.
import type { Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { makeTestCerts } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { connectTimeoutProblems } from '../src/connect-timeout.js';
import { checkServers, passesRightTransports } from './check-servers.js';
import { mutantTransport } from './mutant-transports.js';

const serve = checkServers();

const problemsOf = async (server: Transport, client: Transport): Promise<string[]> => connectTimeoutProblems(client, await serve(server));

describe('the connect-timeout check', () => {
  const ws = wsTransport();
  passesRightTransports(problemsOf);

  it('passes TLS over TCP and ws (wss://), whose handshakes the silent peer never answers', async () => {
    const certs = makeTestCerts();
    try {
      const tls = { ca: certs.ca };
      expect(await connectTimeoutProblems(tcpTransport(runtime, { tls }), { host: '127.0.0.1', port: 1, tls: true })).toEqual([]);
      expect(await connectTimeoutProblems(wsTransport({ tls }), { host: '127.0.0.1', port: 1, tls: true })).toEqual([]);
      expect(await connectTimeoutProblems(ws, { path: '/unused' })).toEqual([]);
    } finally {
      certs.remove();
    }
  });

  it('names a connect that drops its timeoutMs', async () => {
    expect(await problemsOf(ws, mutantTransport(ws, { ignoresConnectTimeout: true }))).toEqual([
      expect.stringMatching(/^connect\(127\.0\.0\.1:\d+, \{ timeoutMs: 100 \}\) to a peer that accepts and never answers its handshake had not settled \d+ ms later: give the connect up at its timeoutMs/),
    ]);
  }, 15_000);

  it('names a connect that leaves a socket open when it gives up', async () => {
    expect(await problemsOf(ws, mutantTransport(ws, { leaksFailedConnect: true }))).toEqual([
      expect.stringMatching(/^connect\(127\.0\.0\.1:\d+, \{ timeoutMs: 100 \}\) to a peer that accepts and never answers its handshake rejected with Unreachable, and its socket was still open 4000 ms later/),
    ]);
  }, 15_000);
});
