// The kit's claimed-body check (src/claimed-bodies.ts), on the server side of the transport: it
// passes this repository's TCP and ws transports, and names a reader that allocates a frame's
// buffer at its header, whether the server's connections count what they received (the check
// waits for that) or not (it waits a settle).
import type { Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it } from 'vitest';
import { claimedBodyProblems } from '../src/claimed-bodies.js';
import { watchConns } from '../src/conn-watch.js';
import { checkServers, passesRightTransports } from './check-servers.js';
import { mutantTransport } from './mutant-transports.js';

const BOUND_MS = 5_000;
const serve = checkServers();

/** The check, its server's connections watched as transportConformance watches them. */
const problemsOf = async (server: Transport, client: Transport): Promise<string[]> => {
  const watch = watchConns(server);
  return claimedBodyProblems(client, await serve(watch.transport), BOUND_MS, watch.acceptsFrom);
};

const named = (how: RegExp): RegExp =>
  new RegExp(
    String.raw`^4 connections to 127\.0\.0\.1:\d+ each claimed a 80\.0 MiB body \(within the server's limits\) and sent 1024 bytes of it; once the server had read them \(` +
      how.source +
      String.raw`\), the process's ArrayBuffer memory held \d+\.\d MiB more than before them, both after full collections, the connections open \(320\.0 MiB claimed, 32\.0 MiB allowed\): allocate a frame's body as its bytes arrive, never at its header`,
  );

describe('the claimed-body check', () => {
  const tcp = tcpTransport(runtime);
  passesRightTransports(problemsOf);

  it('names a server whose reader allocates the body a header claims before it arrives, once its receivedBytes show the claims read', async () => {
    expect(await problemsOf(mutantTransport(tcp, { reservesClaimedBody: true }), tcp)).toEqual([expect.stringMatching(named(/its connections' receivedBytes counted each claim's header and 1024 bytes, or midFrame said part of a frame was held/))]);
  });

  it('names it also when the server reads the claims late, as on a loaded machine: the check waits for the read', async () => {
    expect(await problemsOf(mutantTransport(tcp, { reservesClaimedBody: true, acceptsLate: true }), tcp)).toEqual([
      expect.stringMatching(named(/its connections' receivedBytes counted each claim's header and 1024 bytes, or midFrame said part of a frame was held/)),
    ]);
  });

  it('names it too where the server\'s connections count nothing, after a settle with them open', async () => {
    expect(await problemsOf(mutantTransport(tcp, { reservesClaimedBody: true, serverCountsNothing: true }), tcp)).toEqual([
      expect.stringMatching(named(/its connections give no receivedBytes, nor midFrame showing a frame held: 250 ms with them open/)),
    ]);
  });

  it('passes a right server whose connections count nothing', async () => {
    expect(await problemsOf(mutantTransport(tcp, { serverCountsNothing: true }), tcp)).toEqual([]);
  });
});
