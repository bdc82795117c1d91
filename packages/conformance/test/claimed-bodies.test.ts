// The kit's claimed-body check (src/claimed-bodies.ts), on the server side of the transport: it
// passes this repository's TCP and ws transports, and names a reader that allocates a frame's
// buffer at its header.
import type { Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it } from 'vitest';
import { claimedBodyProblems } from '../src/claimed-bodies.js';
import { checkServers, passesRightTransports } from './check-servers.js';
import { mutantTransport } from './mutant-transports.js';

const BOUND_MS = 5_000;
const serve = checkServers();

const problemsOf = async (server: Transport, client: Transport): Promise<string[]> => claimedBodyProblems(client, await serve(server), BOUND_MS);

describe('the claimed-body check', () => {
  const tcp = tcpTransport(runtime);
  passesRightTransports(problemsOf);

  it('names a server whose reader allocates the body a header claims before it arrives', async () => {
    expect(await problemsOf(mutantTransport(tcp, { reservesClaimedBody: true }), tcp)).toEqual([
      expect.stringMatching(/^4 connections to 127\.0\.0\.1:\d+ each claimed a 80\.0 MiB body \(within the server's limits\) and sent 1024 bytes of it; the process's ArrayBuffer memory grew by \d+\.\d MiB \(320\.0 MiB claimed\)/),
    ]);
  });
});
