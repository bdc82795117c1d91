// The kit's half-close check (src/half-close.ts): it passes this repository's TCP and ws
// transports, and names a client connection whose end() closes outright instead of half-closing.
import { parseAddress, silentLogger, type Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { RpcServer } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { afterEach, describe, expect, it } from 'vitest';
import { conformanceDispatch } from '../src/dispatch.mjs';
import { halfCloseProblems } from '../src/half-close.js';
import { mutantTransport } from './mutant-transports.js';

/** Generous for a right transport; the mutant never gets its answer, so this bound is what it fails at. */
const BOUND_MS = 3_000;
const servers: RpcServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function problemsOf(server: Transport, client: Transport): Promise<string[]> {
  const s: RpcServer = new RpcServer({
    dispatch: conformanceDispatch({ info: { runtime: runtime.name, transport: server.name }, gateEntered: () => {}, gateReleased: new Promise(() => {}), logger: silentLogger, paused: () => 0 }),
    logger: silentLogger,
  });
  servers.push(s);
  const address = await s.listen(server, '127.0.0.1:0');
  return halfCloseProblems(client, parseAddress(address), BOUND_MS);
}

describe('the half-close check', () => {
  const tcp = tcpTransport(runtime);
  const ws = wsTransport();

  it('passes the TCP transport', async () => {
    expect(await problemsOf(tcp, tcp)).toEqual([]);
  });

  it('passes the ws transport', async () => {
    expect(await problemsOf(ws, ws)).toEqual([]);
  });

  it('names a client connection whose end() closes it outright', async () => {
    expect(await problemsOf(tcp, mutantTransport(tcp, { endCloses: true }))).toEqual([
      expect.stringMatching(/^a call written, then end\(\) in the same run, on a connection to 127\.0\.0\.1:\d+: no answer came \(before the close\): end\(\) flushes what is queued, then half-closes/),
    ]);
  });
});
