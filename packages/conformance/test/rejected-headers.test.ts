// The kit's rejected-header check (src/rejected-headers.ts), on the server side of the transport:
// it passes this repository's TCP and ws transports, and names a server connection that waits
// for the body a rejected header claims instead of refusing it.
import { parseAddress, silentLogger, type FrameSpec, type Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { RpcServer, createRouter } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { afterEach, describe, expect, it } from 'vitest';
import { rejectedHeaderProblems } from '../src/rejected-headers.js';
import { mutantTransport } from './mutant-transports.js';

/** Generous for a right transport; the mutant never closes, so this bound is what it fails at. */
const BOUND_MS = 3_000;
const servers: RpcServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function problemsOf(server: Transport, client: Transport): Promise<string[]> {
  const s = new RpcServer({ dispatch: createRouter({ 1: (req) => req.msg }), logger: silentLogger });
  servers.push(s);
  const address = await s.listen(server, '127.0.0.1:0');
  return rejectedHeaderProblems(client, parseAddress(address), BOUND_MS);
}

describe('the rejected-header check', () => {
  const tcp = tcpTransport(runtime);
  const ws = wsTransport();

  it('passes the TCP transport', async () => {
    expect(await problemsOf(tcp, tcp)).toEqual([]);
  });

  it('passes the ws transport', async () => {
    expect(await problemsOf(ws, ws)).toEqual([]);
  });

  it('names a server connection that waits for the body of a header its spec rejects', async () => {
    expect(await problemsOf(mutantTransport(tcp, { waitsForRejectedBody: true }), tcp)).toEqual([
      expect.stringMatching(/^a request header claiming a 4 GiB message, past the server's limit, sent to 127\.0\.0\.1:\d+: the connection was still open 3000 ms later \(0 replies\)/),
      expect.stringMatching(/^a request header of version 9, sent to 127\.0\.0\.1:\d+: the connection was still open 3000 ms later/),
    ]);
  });
});
