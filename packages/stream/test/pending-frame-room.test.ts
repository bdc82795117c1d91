import type { FrameConn, Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ManualClock, claimingRequest, cleanups, memoryLogger, waitFor, within } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { rawPeer } from './harness.js';

/*
 * docs/hardening.md, "The pending-frame budgets are shared per listener": peers that each send
 * half of a large frame and stall fill a TCP listener's maxPendingFrameBytes together. An
 * innocent client's large frame that does not fit beside them now waits for room, reading
 * paused, rather than being closed; the read timeout closes the stalled ones (their frames began
 * first, so time out first) and the room they held goes to the frames waiting, oldest first. A
 * connection that times out while it waits is closed with words that say so. The server runs on
 * a clock the test drives, so which frames time out is decided by ticks, not by speed.
 */

const cleanup = cleanups();
const KiB = 1024;
const MiB = 1024 * KiB;
const TICK = 20;
const READ_TIMEOUT = 300;
/** What the server says when it closes a connection whose frame timed out while waiting for room. */
const WAITING_WORDS = /^closing connection: a frame was not finished within the read timeout, waiting for room in the transport's maxPendingFrameBytes budget/;

/** A server over TCP with a 1 MiB pending-frame budget, on a clock the test drives; `conns`: the FrameConns it accepted, in order. */
async function serve() {
  const clock = new ManualClock();
  const logger = memoryLogger();
  const tcp = tcpTransport(nodeRuntime, { maxPendingFrameBytes: MiB });
  const conns: FrameConn[] = [];
  const watched: Transport = { ...tcp, listen: (address, spec, accept, opts) => tcp.listen(address, spec, (c) => (conns.push(c), accept(c)), opts) };
  const server = new RpcServer({
    dispatch: createRouter({ echo: (req) => req.msg }),
    logger,
    clock,
    tickMs: TICK,
    readTimeoutMs: READ_TIMEOUT,
    idleTimeoutMs: 0,
    keepaliveMs: 0,
    closeWaitMs: 0,
  });
  cleanup.push(() => server.close());
  const a = (await server.listen(watched, '127.0.0.1:0')) as { host: string; port: number };
  const address = `${a.host}:${a.port}`;
  const said = (re: RegExp) => logger.lines.filter((l) => re.test(l.msg ?? ''));
  /** Advances the clock `n` ticks, one at a time, as the server's ticker runs. */
  const ticks = (n: number) => {
    for (let i = 0; i < n; i++) clock.advance(TICK);
  };
  return { server, address, conns, said, ticks };
}

/** A raw peer that sends the first `sent` bytes of a request frame of `length` bytes (header included), and stalls. */
function stalled(address: string, length: number, sent: number) {
  const peer = rawPeer(address, cleanup);
  const bytes = new Uint8Array(sent);
  bytes.set(claimingRequest({ action: 7, msgLength: length - 32, blobLength: 0 }));
  peer.send(bytes);
  const state = { closed: false };
  void peer.closed.then(() => (state.closed = true));
  return { peer, state, rest: (upTo: number) => peer.send(new Uint8Array(upTo - sent)) };
}

async function client(address: string): Promise<ClientStream> {
  const c = await ClientStream.connect({ transport: tcpTransport(nodeRuntime), address, keepaliveMs: 0 });
  cleanup.push(() => c.destroy());
  return c;
}

describe('stalled half-frames filling a TCP listener\'s maxPendingFrameBytes', () => {
  it('make an innocent call wait for room, not fail: it is answered once they time out, and only they are closed', async () => {
    const s = await serve();
    // Four halves of 512 KiB frames: two are charged their frames' length (the whole 1 MiB), two wait.
    const peers = Array.from({ length: 4 }, () => stalled(s.address, 512 * KiB, 256 * KiB));
    await waitFor(() => s.conns.length === 4 && s.conns.filter((c) => c.receivedBytes! >= 256 * KiB).length >= 2 && s.conns.filter((c) => c.waitingForRoom).length === 2, { what: 'two halves held, two waiting' });
    s.ticks(1); // the tick sees them mid-frame: their read timeouts start here
    s.ticks(1);
    const innocent = await client(s.address);
    const msg = new Uint8Array(600 * KiB).map((_, i) => i % 251);
    const answer = innocent.call('echo', msg);
    await waitFor(() => s.conns[4]?.waitingForRoom === true, { what: 'the innocent call waiting for room' });
    s.ticks(1); // its read timeout starts here: two ticks after theirs
    // Their timeouts pass, not its own: they are closed, and the room goes to it.
    s.ticks(READ_TIMEOUT / TICK - 2);
    const r = await within(answer, 10_000, 'the answer to the innocent call');
    expect(Buffer.compare(r.msg, msg)).toBe(0);
    await Promise.all(peers.map((p) => within(p.peer.closed, 10_000, 'a stalled peer closed')));
    // The innocent client's connection is the one left, and works on.
    expect(s.server.connections).toBe(1);
    expect((await innocent.call('echo', new Uint8Array([1, 2, 3]))).msg).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('close a waiting connection whose own read timeout passes with words that say it waited for room, giving back what it held', async () => {
    const s = await serve();
    // w holds 100 KiB of a 512 KiB frame, its read timeout started; then h holds 900 KiB.
    const w = stalled(s.address, 512 * KiB, 100 * KiB);
    await waitFor(() => s.conns[0]?.receivedBytes === 100 * KiB, { what: "w's start received" });
    s.ticks(1);
    const h = stalled(s.address, 900 * KiB, 500 * KiB);
    await waitFor(() => s.conns[1]?.receivedBytes === 500 * KiB, { what: "h's start received" });
    s.ticks(2);
    // Past half of its frame, w needs its frame's length charged: that does not fit beside h's, and it waits.
    w.rest(300 * KiB);
    await waitFor(() => s.conns[0]!.waitingForRoom === true, { what: 'w waiting for room' });
    // w's read timeout passes, h's (begun a tick later) does not.
    s.ticks(READ_TIMEOUT / TICK - 2);
    await within(w.peer.closed, 10_000, 'w closed');
    expect(s.said(WAITING_WORDS)).toHaveLength(1);
    await waitFor(() => s.server.connections === 1, { what: "the server counting w's close" });
    expect(h.state.closed).toBe(false);
    // What w held is free again: a 100 KiB call fits beside h's 900 KiB, and goes through at once.
    const c = await client(s.address);
    const msg = new Uint8Array(100 * KiB).fill(7);
    expect(Buffer.compare((await within(c.call('echo', msg), 10_000, 'the 100 KiB call')).msg, msg)).toBe(0);
  });
});
