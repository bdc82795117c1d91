// The kit's frame-bound checks (src/frame-bounds.ts): they pass this repository's TCP, ws and uWS
// transports (small caps, so a frame of exactly the cap is cheap), and name a listener that
// declares more than it carries or other than its connections, and a connection that packs
// messages past the peer's bound it was told.
import { parseAddress, type Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { tcpTransport } from '@skein/transport-tcp';
import { uwsTransport, wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { maxFrameProblems, peerMaxFrameProblems } from '../src/frame-bounds.js';
import { mutantTransport } from './mutant-transports.js';

const BOUND_MS = 10_000;
const AT = parseAddress('127.0.0.1:0');
/** Under ws's default maxBatchBytes (1 MiB): a batcher that ignores the peer's bound packs past it. */
const CAP = 256 * 1024;

const RIGHT: readonly (readonly [string, Transport])[] = [
  ['TCP', tcpTransport(runtime, { maxPendingFrameBytes: CAP })],
  ['ws', wsTransport({ maxWsMessageBytes: CAP })],
  ['uWS', uwsTransport({ maxWsMessageBytes: CAP })],
  ['ws at its defaults', wsTransport()],
];

describe('the maxFrameBytes check', () => {
  for (const [name, t] of RIGHT) {
    it(`passes the ${name} transport`, async () => {
      expect(await maxFrameProblems(t, AT, BOUND_MS)).toEqual([]);
    });
  }

  it('names a transport that declares a byte more than it carries', async () => {
    expect(await maxFrameProblems(mutantTransport(wsTransport({ maxWsMessageBytes: CAP }), { overstatesMaxFrame: true }), AT, BOUND_MS)).toEqual([
      expect.stringMatching(/^a frame of exactly maxFrameBytes \(262145 bytes, header included\) written to 127\.0\.0\.1:\d+ closed the connection .*: maxFrameBytes is the largest whole frame/),
    ]);
  });

  it('names a TCP transport that declares a byte more than it carries', async () => {
    expect(await maxFrameProblems(mutantTransport(tcpTransport(runtime, { maxPendingFrameBytes: CAP }), { overstatesMaxFrame: true }), AT, BOUND_MS)).toEqual([
      expect.stringMatching(/^a frame of exactly maxFrameBytes \(262145 bytes/),
    ]);
  });

  it("names a listener whose maxFrameBytes is not its connections'", async () => {
    expect(await maxFrameProblems(mutantTransport(wsTransport({ maxWsMessageBytes: CAP }), { listenerMaxFrameDiffers: true }), AT, BOUND_MS)).toEqual([
      expect.stringMatching(/^the listener at 127\.0\.0\.1:\d+ declares maxFrameBytes 524288, its connection 262144/),
    ]);
  });
});

describe('the frame-bound checks close their own listener', () => {
  // A close that never resolves hung each check until the scenario's bound, which said only
  // that no connection showed why; each now names the listener's close at its own bound.
  const hanging = mutantTransport(wsTransport({ maxWsMessageBytes: CAP }), { listenerCloseHangs: true });
  const named = /^the transport's FrameListener\.close\(\) of the kit's own listener at 127\.0\.0\.1:\d+ has not resolved 500 ms after it was called/;

  it('naming a listener whose close never resolves (maxFrameBytes)', async () => {
    await expect(maxFrameProblems(hanging, AT, 500)).rejects.toThrow(named);
  });

  it('naming a listener whose close never resolves (setPeerMaxFrameBytes)', async () => {
    await expect(peerMaxFrameProblems(hanging, AT, 500)).rejects.toThrow(named);
  });
});

describe('the setPeerMaxFrameBytes check', () => {
  for (const [name, t] of RIGHT) {
    it(`passes the ${name} transport`, async () => {
      expect(await peerMaxFrameProblems(t, AT, BOUND_MS)).toEqual([]);
    });
  }

  it('names a connection whose setPeerMaxFrameBytes does nothing: its 1 MiB messages close the connection', async () => {
    expect(await peerMaxFrameProblems(mutantTransport(wsTransport({ maxWsMessageBytes: CAP }), { ignoresPeerMaxFrame: true }), AT, BOUND_MS)).toEqual([
      expect.stringMatching(/^after setPeerMaxFrameBytes\(262144\) .*, 24 frames of 16384 bytes written to 127\.0\.0\.1:\d+ in one run: \d+ arrived, then the connection closed/),
    ]);
  });
});
