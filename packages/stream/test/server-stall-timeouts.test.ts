import { ManualClock, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { RpcServerOptions } from '../src/index.js';
import { golden } from './golden.js';
import { rawPeer, startServer } from './harness.js';

/*
 * The idle and read timeouts after the server's own stall (a long GC, a blocking handler, a busy
 * machine). The first tick after a stall runs before the event loop reads its sockets (timers
 * come before I/O), so by the wall clock a connection whose frame waits unread in the socket
 * looks idle, or stalled mid-frame, for the whole stall. `clock.stall` then `fireAll()` is that
 * first tick, run in the same turn as the peer's write: before the server can read it.
 */

const cleanup = cleanups();

/** Tight bounds, and a stall three times past each: the wall clock would close at once. */
const TICK = 20;
const BOUND_MS = 100;
const STALL_MS = 300;
/** The safety net of every wait: far past any bound here. */
const SAFETY = { timeoutMs: 10_000 };

async function serve(table: Parameters<typeof startServer>[0], opts: Partial<RpcServerOptions>) {
  const s = await startServer(table, { tickMs: TICK, keepaliveMs: 0, closeWaitMs: 0, ...opts });
  cleanup.push(() => s.server.close());
  return s;
}

/** A raw peer (no hello: it answers no pings) whose close is seen as a flag. */
async function peerOf(s: Awaited<ReturnType<typeof serve>>) {
  const peer = rawPeer(s.address, cleanup);
  await waitFor(() => s.server.connections === 1 || undefined, { ...SAFETY, what: 'the connection accepted' });
  const state = { closed: false };
  void peer.closed.then(() => (state.closed = true));
  return { peer, state };
}

describe('a stalled server keeps its idle and read timeouts to its own ticks', () => {
  it('a call sent just before a stall longer than idleTimeoutMs is read and answered, not closed as idle', async () => {
    const clock = new ManualClock();
    let runs = 0;
    const s = await serve({ 7: (req) => (runs++, req.msg) }, { clock, idleTimeoutMs: BOUND_MS, readTimeoutMs: 0 });
    const { peer, state } = await peerOf(s);
    clock.advance(TICK); // the tick sees the connection new (busy): its idle time starts here
    const replyLength = 20 + 2;
    peer.send(golden.numericActionRequest);
    clock.stall(STALL_MS);
    clock.fireAll();
    await waitFor(() => peer.receivedBytes() >= replyLength || state.closed || undefined, { ...SAFETY, what: 'the reply, or the close' });
    expect(state.closed).toBe(false);
    expect(runs).toBe(1);
    expect(peer.received().subarray(20)).toEqual(Buffer.from([9, 8]));
    // Still closed once idle for idleTimeoutMs of ticks: the next tick sees the call, then five quiet ticks.
    clock.advance(TICK + BOUND_MS);
    await within(peer.closed, SAFETY.timeoutMs, 'the idle close, once due');
    expect(runs).toBe(1);
  });

  it('a frame whose rest was sent just before a stall longer than readTimeoutMs is finished, not closed as stalled', async () => {
    const clock = new ManualClock();
    const s = await serve({}, { clock, idleTimeoutMs: 0, readTimeoutMs: BOUND_MS });
    const { peer, state } = await peerOf(s);
    const ping = golden.ping;
    const half = 10;
    // A whole ping and half of the next in one write: its pong says the server read the half too.
    peer.send(Buffer.concat([ping, ping.subarray(0, half)]));
    await waitFor(() => peer.receivedBytes() >= 20 || undefined, { ...SAFETY, what: 'the first pong' });
    clock.advance(TICK); // the tick finds it mid-frame: the read timeout starts here
    peer.send(ping.subarray(half));
    clock.stall(STALL_MS);
    clock.fireAll();
    await waitFor(() => peer.receivedBytes() >= 40 || state.closed || undefined, { ...SAFETY, what: 'the second pong, or the close' });
    expect(state.closed).toBe(false);
    expect(peer.received().subarray(20)).toEqual(peer.received().subarray(0, 20));
    // A frame left unfinished for readTimeoutMs of ticks is still closed: one tick to find it, five more.
    peer.send(Buffer.concat([ping, ping.subarray(0, half)]));
    await waitFor(() => peer.receivedBytes() >= 60 || undefined, { ...SAFETY, what: 'the third pong' });
    clock.advance(TICK);
    clock.advance(BOUND_MS);
    await within(peer.closed, SAFETY.timeoutMs, 'the read-timeout close, once due');
  });
});
