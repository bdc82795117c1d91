// The kit's connect-signal check (src/connect-signal.ts), on the transport itself: it passes
// this repository's TCP and ws transports, and names both ways a connect that never sees its
// signal breaks the contract (TransportConnectOptions.signal).
import { parseAddress, silentLogger, type Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { RpcServer, createRouter } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { afterEach, describe, expect, it } from 'vitest';
import { connectSignalProblems } from '../src/connect-signal.js';
import { mutantTransport } from './mutant-transports.js';

const CONNECT_MS = 20_000;
const servers: RpcServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** The problems the check finds with `client`, dialling an echo server on `server`. */
async function problemsOf(server: Transport, client: Transport): Promise<string[]> {
  const s = new RpcServer({ dispatch: createRouter({ 1: (req) => req.msg }), logger: silentLogger });
  servers.push(s);
  const address = await s.listen(server, '127.0.0.1:0');
  return connectSignalProblems(client, parseAddress(address), CONNECT_MS);
}

describe('the connect-signal check', () => {
  const tcp = tcpTransport(runtime);
  const ws = wsTransport();

  it('passes the TCP transport', async () => {
    expect(await problemsOf(tcp, tcp)).toEqual([]);
  });

  it('passes the ws transport', async () => {
    expect(await problemsOf(ws, ws)).toEqual([]);
  });

  it('names a connect that never sees its signal: aborted before, and while connecting', async () => {
    const problems = await problemsOf(tcp, mutantTransport(tcp, { ignoresConnectSignal: true }));
    expect(problems).toEqual([
      expect.stringMatching(/^connect\(127\.0\.0\.1:\d+\) given a signal aborted already resolved with a connection: it must reject with RpcError\(Cancelled\) before dialling/),
      expect.stringMatching(/^connect\(127\.0\.0\.1:\d+\) whose signal aborted while it was under way resolved with a connection: it must give the connect up at the abort/),
    ]);
  });
});
