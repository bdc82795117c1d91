import { cleanups, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FRAMES_PER_TURN } from '../src/server/read-turns.js';
import { golden } from './golden.js';
import { PING_ACTION } from '../src/wire/protocol.js';
import { rawPeer, requestFrame, startServer } from './harness.js';

/*
 * "Never block the event loop" (README). A peer that pipelines a burst of cheap requests in one
 * write (here 1,000 of 36 bytes: one read on loopback) had the server run every one of them,
 * handler and reply, in the macrotask that read them: with handlers of 2 ms each, one 46 KB
 * write stalled the whole process for seconds, and every other client's keepalive (5 s) gave up
 * on its connection (found by the security trial, /tmp/sec-trial/a3-amplify.mjs). Counted, not
 * timed: a setImmediate queued by the first handler must run before the burst's last handler
 * does, so other connections' reads and the server's timers get turns in between. The server
 * now reads FRAMES_PER_TURN frames of a connection per turn; pings count, as a flood of them
 * (answered by the server itself, no handler) stalls the same way.
 */

const cleanup = cleanups();
const BURST = 1000;

describe('a burst of pipelined requests read in one go', () => {
  it('is not run to its end in one macrotask: the event loop gets a turn before its last handler', async () => {
    let ran = 0;
    let ranAtFirstTurn: number | undefined;
    const s = await startServer(
      {
        7: (req) => {
          if (ran++ === 0) setImmediate(() => (ranAtFirstTurn = ran));
          return req.msg;
        },
      },
      { closeWaitMs: 0 },
    );
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    const frames = [golden.helloRequestFull];
    for (let seq = 1; seq <= BURST; seq++) frames.push(requestFrame(7, seq, new Uint8Array(4)));
    peer.send(Buffer.concat(frames));
    await waitFor(() => ran === BURST, { what: 'every request of the burst handled' });
    expect(ranAtFirstTurn).toBeDefined();
    // Before a fix: 1000, the whole burst ran before the loop's next turn. Now a turn reads
    // FRAMES_PER_TURN frames at most: the server's own turn's end (queued at the hello, before this
    // setImmediate) lets the connection read one more turn's worth before it.
    expect(ranAtFirstTurn!).toBeLessThanOrEqual(2 * FRAMES_PER_TURN);
  });

  it('counts pings as frames: a flood of them is read over several turns too', async () => {
    let calls = 0;
    let readAtFirstTurn: number | undefined;
    // The server's one connection, read through its own field (as idle-conn-shared-parts.test.ts does).
    const framesRead = () => [...(s.server as unknown as { conns: Set<{ framesRead: number }> }).conns][0]!.framesRead;
    const s = await startServer(
      {
        7: () => {
          if (calls++ === 0) setImmediate(() => (readAtFirstTurn = framesRead()));
          return new Uint8Array(0);
        },
      },
      { closeWaitMs: 0 },
    );
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    // A call, whose handler looks at the loop's next turn, then the pings, then one more call.
    const frames = [golden.helloRequestFull, requestFrame(7, 1)];
    for (let seq = 2; seq <= BURST + 1; seq++) frames.push(requestFrame(PING_ACTION, seq));
    frames.push(requestFrame(7, BURST + 2));
    peer.send(Buffer.concat(frames));
    await waitFor(() => calls === 2, { what: 'the call after the pings handled' });
    // Before a fix: all 1,003 frames were read before the loop's next turn.
    expect(readAtFirstTurn).toBeLessThanOrEqual(2 * FRAMES_PER_TURN);
  });
});
