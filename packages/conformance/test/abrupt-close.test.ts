// The kit's abrupt-close check (src/abrupt-close.ts): it passes this repository's TCP, ws and uWS
// transports, and names a close() that never reaches the peer, from the client's side and from
// the server's, each in its own direction.
import { parseAddress, type Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { tcpTransport } from '@skein/transport-tcp';
import { uwsTransport, wsTransport } from '@skein/transport-ws';
import { afterEach, describe, expect, it } from 'vitest';
import { abruptCloseProblems } from '../src/abrupt-close.js';
import { closeLeftOpen, mutantTransport } from './mutant-transports.js';

/** Generous for a right transport (its close reaches the peer in a turn or two); a mutant fails at it. */
const BOUND_MS = 1_500;
const AT = parseAddress('127.0.0.1:0');
const tcp = tcpTransport(runtime);

const RIGHT: readonly (readonly [string, Transport])[] = [
  ['TCP', tcp],
  ['ws', wsTransport()],
  ['uWS', uwsTransport()],
];

afterEach(() => closeLeftOpen());

describe('the abrupt-close check', () => {
  for (const [name, t] of RIGHT) {
    it(`passes the ${name} transport`, async () => {
      expect(await abruptCloseProblems(t, AT, BOUND_MS)).toEqual([]);
    });
  }

  it("names a client whose close() never reaches the server's side", async () => {
    expect(await abruptCloseProblems(mutantTransport(tcp, { clientCloseStaysLocal: true }), AT, BOUND_MS)).toEqual([
      expect.stringMatching(/^the client's side of a connection to 127\.0\.0\.1:\d+ called close\(\) \(an abrupt close\), and the server's side reported no close within 1500 ms: close\(\) must reach the peer/),
    ]);
  });

  it("names a server connection whose close() never reaches the client's side", async () => {
    expect(await abruptCloseProblems(mutantTransport(tcp, { serverCloseStaysLocal: true }), AT, BOUND_MS)).toEqual([
      expect.stringMatching(/^the server's side of a connection to 127\.0\.0\.1:\d+ called close\(\) \(an abrupt close\), and the client's side reported no close within 1500 ms: close\(\) must reach the peer/),
    ]);
  });
});
