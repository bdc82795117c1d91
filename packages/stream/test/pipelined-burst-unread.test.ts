import { cleanups, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FRAMES_PER_TURN } from '../src/server/read-turns.js';
import { golden } from './golden.js';
import { rawPeer, requestFrame, startServer } from './harness.js';

/*
 * A peer that pipelines cheap requests for large replies and never reads them (the security
 * trial's a3-amplify.mjs: 50 KB of requests pinned 508 MB). The server pauses a connection whose
 * send buffer is full, but it used to see that only after the whole read was dispatched: every
 * request of the read ran and its reply was queued. Now a connection yields after
 * FRAMES_PER_TURN frames, its replies reach the full buffer, and it reads nothing more until the
 * peer reads: the handlers run stay within a turn's frames, whatever the burst. Counted by the
 * handlers run, not by memory or time; every reply is one shared buffer, so the old code's
 * thousand queued replies cost the test no memory.
 */

const cleanup = cleanups();
const BURST = 1000;
/** Far over what the kernel's buffers take on loopback: a turn's replies always fill the send buffer. */
const REPLY = new Uint8Array(1024 * 1024);

/** Lets the event loop turn `n` times: a connection that read on at each turn's end would have by then. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('a pipelined burst from a peer that never reads', () => {
  it("runs no more handlers than a turn's frames before the full send buffer stops the reading", async () => {
    let ran = 0;
    // Answered in a microtask, as @skein/api answers a handler that returns at once: a reply written
    // during the read (a plain router handler's) pauses the reading as it fills the buffer already.
    const s = await startServer({ 7: async () => (ran++, REPLY) }, { closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    peer.stopReading();
    const frames = [golden.helloRequestFull];
    for (let seq = 1; seq <= BURST; seq++) frames.push(requestFrame(7, seq, new Uint8Array(4)));
    peer.send(Buffer.concat(frames));
    await waitFor(() => ran > 0 && s.server.stats().paused === 1, { what: 'the burst read and the connection paused' });
    // Were the reading to go on at a turn's end regardless of the full buffer, these turns would run the whole burst.
    await turns(BURST / FRAMES_PER_TURN + 10);
    // Before the fix: all 1000 (a thousand replies of 1 MiB queued, by reference). Twice the budget: the burst may
    // arrive in two reads, the first too small to fill the kernel's buffers.
    expect(ran).toBeLessThanOrEqual(2 * FRAMES_PER_TURN);
    expect(s.server.stats().paused).toBe(1);
  });
});
