import { ErrorCode } from '@skein/core';
import { portOf, rawConnect, waitFor, type RawSocket, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { RpcServer, type ServerRequest } from '../src/index.js';
import { encodeCallHead } from '../src/wire/call-head.js';
import { CANCEL_ACTION, HEAD_ACTION } from '../src/wire/extension-frames.js';
import { golden } from './golden.js';
import { requestFrame as request, responseFrames as responses, transport } from './harness.js';

const cleanup = cleanups();

const CAP = 4;
const CALLS = 20;

/**
 * Whether the server's one connection holds its extensions' state. Private, looked at here on
 * purpose: what is released is some 900 bytes per connection, which no behaviour shows.
 */
const holdsState = (server: RpcServer): boolean => [...(server as unknown as { conns: Set<{ ext: unknown }> }).conns][0]!.ext !== undefined;

/**
 * The state a connection's first abandoned handler makes (ConnExtensions: the abandoned count,
 * a seq table, drain waiters) goes when its last abandoned handler ends with nothing else there,
 * and is made again at the next: the bound of twice maxInFlightPerConn handlers holds each time,
 * and a hello's agreed terms (kept on the connection, not in that state) still hold after it.
 */
describe("a connection's extensions' state after its abandoned handlers ended", () => {
  it('goes, and comes back with the bound still held, on plain calls and then on calls with heads', async () => {
    const running: ServerRequest[] = [];
    let started = 0;
    let most = 0;
    const server = new RpcServer({
      dispatch: {
        tellsHandlerEnds: true,
        dispatch(req) {
          if (req.action === 1) return req.reply(new TextEncoder().encode(String(req.metadata.k)));
          started++;
          most = Math.max(most, running.length + 1);
          running.push(req);
          // A plain call: the server's own handler timeout answers it while its handler runs on.
          // One with a head is cancelled by its client instead.
          if (req.action === 2) {
            req.runsOn();
            req.fail(ErrorCode.Timeout);
          }
        },
      },
      maxInFlightPerConn: CAP,
      closeWaitMs: 0,
    });
    const a = await server.listen(transport, '127.0.0.1:0');
    cleanup.push(() => server.close());
    const peer = await rawConnect(`127.0.0.1:${portOf(a)}`);
    cleanup.push(() => peer.destroy());

    /** CALLS calls from seq `from`; at most twice CAP handlers run at once; then every one runs as the others end. */
    const round = async (from: number, send: (seq: number) => void): Promise<void> => {
      const before = started;
      most = 0;
      for (let seq = from; seq < from + CALLS; seq++) send(seq);
      await waitFor(() => started - before >= 2 * CAP || undefined, { what: 'handlers started' });
      // Whatever more the server would read, it reads within a few ticks.
      await new Promise((r) => setTimeout(r, 200));
      expect(started - before).toBe(2 * CAP);
      await waitFor(() => (running.splice(0).forEach((req) => req.handlerEnded()), started - before === CALLS || undefined), { what: 'every call run' });
      running.splice(0).forEach((req) => req.handlerEnded());
      expect(most).toBe(2 * CAP);
    };

    // A peer with no hello: plain calls, each answered Timeout, its handler running on.
    await round(1, (seq) => peer.write(request(2, seq)));
    expect(holdsState(server)).toBe(false);
    await round(100, (seq) => peer.write(request(2, seq)));
    expect(holdsState(server)).toBe(false);

    // A hello, then calls with heads the peer cancels: the state is made again from the agreed terms.
    peer.write(golden.helloRequestFull);
    await waitFor(() => responses(peer.received()).some((r) => r.seq === 0) || undefined, { what: 'the hello answered' });
    const head = encodeCallHead(undefined, undefined);
    await round(200, (seq) => {
      peer.write(request(HEAD_ACTION, seq, head));
      peer.write(request(3, seq));
      peer.write(request(CANCEL_ACTION, seq));
    });
    expect(holdsState(server)).toBe(false);
    await expectHeadHonoured(peer, 500);
  });
});

/**
 * The state stays while anything in it is needed when the last abandoned handler ends: a call
 * with a head still running (its cancel must reach it), a head whose request waits past the cap
 * (its metadata must go with it).
 */
describe("a connection's extensions' state while it is needed", () => {
  const start = async () => {
    const held: ServerRequest[] = [];
    const server = new RpcServer({
      dispatch: {
        tellsHandlerEnds: true,
        dispatch(req) {
          if (req.action === 1) return req.reply(new TextEncoder().encode(String(req.metadata.k)));
          held.push(req);
          if (req.action === 2) {
            req.runsOn();
            req.fail(ErrorCode.Timeout);
          }
        },
      },
      maxInFlightPerConn: 1,
      closeWaitMs: 0,
    });
    const a = await server.listen(transport, '127.0.0.1:0');
    cleanup.push(() => server.close());
    const peer = await rawConnect(`127.0.0.1:${portOf(a)}`);
    cleanup.push(() => peer.destroy());
    peer.write(golden.helloRequestFull);
    // One handler running on abandoned.
    peer.write(request(2, 1));
    await waitFor(() => held.length === 1 || undefined, { what: 'the abandoned handler' });
    return { peer, held };
  };

  it('stays while a call with a head runs: its cancel still reaches it', async () => {
    const { peer, held } = await start();
    peer.write(request(HEAD_ACTION, 2, encodeCallHead(undefined, undefined)));
    peer.write(request(4, 2));
    await waitFor(() => held.length === 2 || undefined, { what: 'the call with a head running' });
    held[0]!.handlerEnded();
    peer.write(request(CANCEL_ACTION, 2));
    await waitFor(() => held[1]!.signal.aborted || undefined, { what: 'the cancel reaching the call' });
  });

  it('stays while a head waits with its request past the cap: the request runs with it', async () => {
    const { peer, held } = await start();
    // A plain call takes the one slot; the call with a head waits behind it.
    peer.write(request(4, 2));
    await waitFor(() => held.length === 2 || undefined, { what: 'the plain call running' });
    peer.write(request(HEAD_ACTION, 3, encodeCallHead(5000, { k: 'v' })));
    peer.write(request(1, 3));
    await new Promise((r) => setTimeout(r, 50));
    expect(responses(peer.received()).some((r) => r.seq === 3)).toBe(false);
    held[0]!.handlerEnded();
    held[1]!.reply();
    await waitFor(() => responses(peer.received()).some((r) => r.seq === 3) || undefined, { what: 'the waiting call answered' });
    const answer = responses(peer.received()).find((r) => r.seq === 3)!;
    expect(new TextDecoder().decode(answer.body)).toBe('v');
  });
});

/** A call with a head carrying metadata is run with it: the hello's terms hold on the connection. */
async function expectHeadHonoured(peer: RawSocket, seq: number): Promise<void> {
  peer.write(request(HEAD_ACTION, seq, encodeCallHead(5000, { k: 'v' })));
  peer.write(request(1, seq));
  await waitFor(() => responses(peer.received()).some((r) => r.seq === seq) || undefined, { what: 'the call with a head answered' });
  const answer = responses(peer.received()).find((r) => r.seq === seq)!;
  expect({ flag: answer.flag, body: new TextDecoder().decode(answer.body) }).toEqual({ flag: 0, body: 'v' });
}
