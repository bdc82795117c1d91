import { RpcError, type FrameConn } from '@skein/core';
import { cleanups, deferred, portOf, waitFor } from '@skein/test-utils';
import { uwsTransport, wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type ClientStreamOptions } from '../src/index.js';
import { FRAMES_PER_TURN } from '../src/server/read-turns.js';
import { DEFAULT_LIMITS } from '../src/wire/limits.js';
import { responseFrameSpec } from '../src/wire/frame-specs.js';
import { golden } from './golden.js';
import { requestFrame } from './harness.js';

/*
 * A server reads FRAMES_PER_TURN frames of a connection per turn, then pauses it until the turn's
 * end (pipelined-burst-yields.test.ts). uWebSockets.js cannot stop reading a paused connection:
 * what arrives meanwhile is held, at most maxHeldBytes (default maxWsMessageBytes), past which the
 * peer is dropped with 1013. A Skein client packs its messages up to the server's cap, so a
 * well-behaved client's window (128 calls) pipelined in one near-cap message of more than 64
 * frames and the message after it went over: the message being read counted whole, and the yield
 * held the rest of the window, so every call failed IO "may have run" (a review's
 * /tmp/rv/uws2.mjs and uws.mjs). The message being read no longer counts, and a yield gives way
 * (reads on) where holding would go over; a pause for backpressure still drops the peer.
 */

const cleanup = cleanups();
const KiB = 1024;
/** The server's cap, and so its maxHeldBytes: small, so the client's window of calls spans it. */
const CAP = 64 * KiB;
/** A client's window of calls: twice FRAMES_PER_TURN, so a yield leaves a turn's frames of it unread. */
const WINDOW = 512;

async function uwsServer(routes: Parameters<typeof createRouter>[0], opts: { maxInFlightPerConn?: number } = {}) {
  const server = new RpcServer({ dispatch: createRouter(routes), closeWaitMs: 0, ...opts });
  cleanup.push(() => server.close());
  const a = await server.listen(uwsTransport({ maxWsMessageBytes: CAP }), '127.0.0.1:0');
  return { server, address: `127.0.0.1:${portOf(a)}` };
}

async function clientOf(address: string, opts: Partial<ClientStreamOptions> = {}): Promise<ClientStream> {
  const stream = await ClientStream.connect({ address, keepaliveMs: 0, transport: wsTransport(), ...opts });
  cleanup.push(() => stream.destroy());
  return stream;
}

/** `n` calls of `bytes` each, sent in one run; what each came to. */
async function window(stream: ClientStream, n: number, bytes: number): Promise<Record<string, number>> {
  const outcomes = await Promise.all(
    Array.from({ length: n }, () => stream.call('echo', new Uint8Array(bytes)).then(() => 'ran', (e: RpcError) => `${e.code} ${e.message}`)),
  );
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  return counts;
}

const echo = { echo: () => new Uint8Array([1]) };

describe('a uWebSockets.js server (it reads on while paused) and a client pipelining its window', () => {
  it('runs every call of a near-cap message of more than FRAMES_PER_TURN frames and the message after it', async () => {
    const { address } = await uwsServer(echo);
    const stream = await clientOf(address, { window: WINDOW });
    // 512 calls of 150 B: messages of ~340 frames at the cap, more than FRAMES_PER_TURN (256).
    // Before the fix: a turn's frames ran, then 1013 "over maxHeldBytes" failed the rest.
    expect(FRAMES_PER_TURN).toBeLessThan(340);
    expect(await window(stream, WINDOW, 150)).toEqual({ ran: WINDOW });
    expect(await window(stream, WINDOW, 150)).toEqual({ ran: WINDOW });
    expect(stream.state).toBe('open');
  });

  it('runs every call of a window sent in many small messages, the yield holding more than maxHeldBytes', async () => {
    const { address } = await uwsServer(echo);
    // 1,024 calls of 1 KiB in messages of 16 KiB: what the yield leaves unread of a read holds
    // hundreds of KiB, several times the cap.
    const stream = await clientOf(address, { window: 1024, transport: wsTransport({ maxBatchBytes: 16 * KiB }) });
    expect(await window(stream, 1024, KiB)).toEqual({ ran: 1024 });
    expect(await window(stream, 1024, KiB)).toEqual({ ran: 1024 });
    expect(stream.state).toBe('open');
  });
});

describe('a uWebSockets.js server and a raw peer', () => {
  /** A bare transport connection that sends `frames` in one run, cut into messages of at most 32 KiB (within the cap). */
  async function rawPeer(address: string, frames: Uint8Array[]): Promise<{ closed: Promise<Error | undefined> }> {
    const [host, port] = address.split(':') as [string, string];
    const conn: FrameConn = await wsTransport({ batchFrames: Infinity, maxBatchBytes: 32 * KiB }).connect({ host, port: Number(port) }, responseFrameSpec(DEFAULT_LIMITS));
    cleanup.push(() => conn.close());
    const closed = deferred<Error | undefined>();
    conn.bind({ frame: () => {}, drain: () => {}, close: (err) => closed.resolve(err) });
    for (const f of frames) conn.write(f);
    conn.flush();
    return { closed: closed.promise };
  }

  it('still yields: a burst in one message within maxHeldBytes is not run to its end in one macrotask', async () => {
    const BURST = 1000;
    let ran = 0;
    let ranAtFirstTurn: number | undefined;
    const { address } = await uwsServer({
      echo: () => {
        if (ran++ === 0) setImmediate(() => (ranAtFirstTurn = ran));
        return new Uint8Array(0);
      },
    }, { maxInFlightPerConn: 2 * BURST });
    const frames = [golden.helloRequestFull];
    // 1,000 requests of ~40 B: one message of ~40 KiB, under the cap.
    for (let seq = 1; seq <= BURST; seq++) frames.push(requestFrame('echo', seq, new Uint8Array(4)));
    await rawPeer(address, frames);
    await waitFor(() => ran === BURST, { what: 'every request of the burst handled' });
    // Skipping the yield on a socket that cannot stop reading would run all 1,000 in one turn.
    expect(ranAtFirstTurn).toBeLessThanOrEqual(2 * FRAMES_PER_TURN);
  });

  it('a peer sending faster than the yields read is never read to its end in one macrotask: a turn\'s frames more per message over the budget, dropped past twice it', async () => {
    // Once, a yield gave way for the rest of the turn: such a peer had all it sent read in one
    // macrotask, every turn (a review read 24,382 frames between two setImmediate ticks).
    const BURST = 20_000;
    let ran = 0;
    // Handlers run since the last turn's end, and the most of them in one turn.
    let sinceTurn = 0;
    let mostInTurn = 0;
    let ticking = true;
    const tick = (): void => {
      sinceTurn = 0;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    cleanup.push(() => (ticking = false));
    const { address } = await uwsServer({
      echo: () => {
        ran++;
        mostInTurn = Math.max(mostInTurn, ++sinceTurn);
        return new Uint8Array(0);
      },
    }, { maxInFlightPerConn: 2 * BURST });
    const frames = [golden.helloRequestFull];
    // ~800 KiB of ~40 B requests, in messages of 32 KiB: twelve times the budget, sent at once.
    for (let seq = 1; seq <= BURST; seq++) frames.push(requestFrame('echo', seq, new Uint8Array(4)));
    const peer = await rawPeer(address, frames);
    let dropped: Error | undefined;
    void peer.closed.then((err) => (dropped = err ?? new Error('closed')));
    await waitFor(() => ran === BURST || dropped !== undefined, { what: 'the burst read, or its peer dropped' });
    expect(mostInTurn).toBeLessThan(BURST / 4);
  });

  it('drops a peer that keeps sending while paused at the in-flight cap, past maxHeldBytes, with 1013', async () => {
    const never = deferred<Uint8Array>();
    cleanup.push(() => never.resolve(new Uint8Array(0)));
    const { address } = await uwsServer({ echo: () => never.promise }, { maxInFlightPerConn: 4 });
    const frames = [golden.helloRequestFull];
    // 4 calls fill the cap; the rest (4 KiB each, ~200 KiB in all) arrive while paused for it.
    for (let seq = 1; seq <= 50; seq++) frames.push(requestFrame('echo', seq, new Uint8Array(4 * KiB)));
    const peer = await rawPeer(address, frames);
    const err = await peer.closed;
    expect(err).toBeInstanceOf(RpcError);
    expect(err!.message).toMatch(/1013 .*over maxHeldBytes/);
  });
});
