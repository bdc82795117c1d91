// The kit's rejected-header check (src/rejected-headers.ts), on the server side of the transport:
// it passes this repository's TCP and ws transports, and names a server connection that waits
// for the body a rejected header claims instead of refusing it.
import type { Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it } from 'vitest';
import { rejectedHeaderProblems } from '../src/rejected-headers.js';
import { checkServers, passesRightTransports } from './check-servers.js';
import { mutantTransport } from './mutant-transports.js';

/** Generous for a right transport; the mutant never closes, so this bound is what it fails at. */
const BOUND_MS = 3_000;
const serve = checkServers();

const problemsOf = async (server: Transport, client: Transport): Promise<string[]> => rejectedHeaderProblems(client, await serve(server), BOUND_MS);

describe('the rejected-header check', () => {
  const tcp = tcpTransport(runtime);
  passesRightTransports(problemsOf);

  it('names a server connection that waits for the body of a header its spec rejects', async () => {
    expect(await problemsOf(mutantTransport(tcp, { waitsForRejectedBody: true }), tcp)).toEqual([
      expect.stringMatching(/^a request header claiming a 4 GiB message, past the server's limit, sent to 127\.0\.0\.1:\d+: the connection was still open 3000 ms later \(0 replies\)/),
      expect.stringMatching(/^a request header of version 9, sent to 127\.0\.0\.1:\d+: the connection was still open 3000 ms later/),
    ]);
  });
});
