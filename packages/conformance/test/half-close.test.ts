// The kit's half-close check (src/half-close.ts): it passes this repository's TCP and ws
// transports, and names a client connection whose end() closes outright instead of half-closing.
import { silentLogger, type Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it } from 'vitest';
import { conformanceDispatch } from '../src/dispatch.mjs';
import { halfCloseProblems } from '../src/half-close.js';
import { checkServers, passesRightTransports } from './check-servers.js';
import { mutantTransport } from './mutant-transports.js';

/** Generous for a right transport; the mutant never gets its answer, so this bound is what it fails at. */
const BOUND_MS = 3_000;
const serve = checkServers();

/** The kit's own dispatch: its echo action is what the check calls. */
async function problemsOf(server: Transport, client: Transport): Promise<string[]> {
  const dispatch = conformanceDispatch({ info: { runtime: runtime.name, transport: server.name }, gateEntered: () => {}, gateReleased: new Promise(() => {}), logger: silentLogger, paused: () => 0 });
  return halfCloseProblems(client, await serve(server, dispatch), BOUND_MS);
}

describe('the half-close check', () => {
  const tcp = tcpTransport(runtime);
  passesRightTransports(problemsOf);

  it('names a client connection whose end() closes it outright', async () => {
    expect(await problemsOf(tcp, mutantTransport(tcp, { endCloses: true }))).toEqual([
      expect.stringMatching(/^a call written, then end\(\) in the same run, on a connection to 127\.0\.0\.1:\d+: no answer came \(before the close\): end\(\) flushes what is queued, then half-closes/),
    ]);
  });
});
