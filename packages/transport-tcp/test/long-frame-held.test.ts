import { describe, expect, it } from 'vitest';
import { cleanups, fullGc, waitFor } from '@skein/test-utils';
import { LONG_FRAME as FRAME, countingRuntime, longFramePastHalf, rawSender, tcp } from './harness.js';

/*
 * What a peer that sends just over half of a long frame and stalls makes the process hold is
 * within what that frame is charged to maxPendingFrameBytes: the budget bounds what stalled peers
 * hold. Past half, the frame's memory is made and charged at its full length; the pieces that
 * came before it must not be held beside it uncharged while the peer sends nothing more (they
 * are copied in, a slice per turn, within a few turns).
 * Measured as the ArrayBuffer memory still reachable after a full collection, as the budget
 * tests of tcp-transport.test.ts do.
 */

const cleanup = cleanups();

/** Sockets' own buffers and this test's small ones. */
const SLACK = 1024 * 1024;

describe('a long frame whose peer stalls past half of it', () => {
  it('holds no more than the frame is charged: its memory, not that and the pieces that came before it', async () => {
    const { runtime, received } = countingRuntime();
    // The documented least: the largest frame accepted. The frame is charged its length.
    const { sender, rec } = await rawSender(tcp({ maxPendingFrameBytes: FRAME }, runtime), cleanup);
    const start = longFramePastHalf();
    const sent = start.length;

    fullGc();
    const before = process.memoryUsage().arrayBuffers;
    sender.write([start]);
    await waitFor(() => received[0]! >= sent || rec.closeCalls.length > 0, { what: `${sent} bytes received` });
    // What came before the frame's memory is copied into it a slice per turn: waited on, up to a
    // bound that is only a hang guard; held beside it until more arrives, it never gets there.
    const heldNow = (): number => {
      fullGc();
      return process.memoryUsage().arrayBuffers - before;
    };
    let held = heldNow();
    await waitFor(() => (held = heldNow()) <= FRAME + SLACK || rec.closeCalls.length > 0, {
      what: `at most ${FRAME + SLACK} bytes held`,
      timeoutMs: 5_000,
    }).catch(() => {});

    expect(rec.closeCalls).toEqual([]);
    expect(rec.frames).toHaveLength(0);
    // Kept alive to here, so that `before` and `held` both count it.
    expect(start.length).toBe(sent);
    expect(received[0]).toBe(sent);
    // The frame's memory, charged FRAME. With the first half's pieces kept beside it until more
    // arrives, this was about 1.5 × FRAME (12.6 MB), over the budget it was charged against.
    expect(held).toBeLessThanOrEqual(FRAME + SLACK);
  }, 30_000);
});
