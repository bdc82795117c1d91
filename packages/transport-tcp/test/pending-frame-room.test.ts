import { FrameError, type ByteConn } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { cleanups, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { byteStreamFraming } from '../src/index.js';
import { recordFrames, type FrameRecorder } from './harness.js';
import { concat, encode, header, noise, spec } from './spec.js';

/*
 * A connection whose partly received frame does not fit in its listener's maxPendingFrameBytes
 * waits for room, reading paused, instead of being closed: peers that stall mid-frame hold the
 * room only until their read timeout, and must not fail an innocent frame meanwhile. The
 * listener here is the framing's own (byteStreamFraming, over the node runtime's sockets), so
 * the test holds the budget its connections share. The read timeout is the server's
 * (packages/stream/test/pending-frame-room.test.ts); it closes a connection as `close()` does.
 */

const cleanup = cleanups();
const KiB = 1024;
const MiB = 1024 * KiB;

/** A listener whose accepted connections share one budget of `max`, recorded in accept order; `peer()` dials one more. */
async function budgetListener(max = MiB) {
  // A short linger: a connection closed for a FrameError reports its close once it is over.
  const framing = byteStreamFraming({ maxPendingFrameBytes: max, lingerMs: 50 });
  const budget = framing.budget();
  const accepted: FrameRecorder[] = [];
  const listener = await nodeRuntime.listen({ host: '127.0.0.1', port: 0 }, (conn) => void accepted.push(recordFrames(framing.conn(conn, spec, { budget }))));
  cleanup.push(() => listener.close());
  const peer = async (): Promise<{ raw: ByteConn; side: FrameRecorder }> => {
    const index = accepted.length;
    const raw = await nodeRuntime.connect(listener.address);
    raw.bind({ data: () => {}, drain: () => {}, end: () => {}, close: () => {} });
    cleanup.push(() => raw.close());
    await waitFor(() => accepted.length > index, { what: 'the connection accepted' });
    const side = accepted[index]!;
    cleanup.push(() => side.conn.close());
    return { raw, side };
  };
  return { budget, peer };
}

/** Sends the start of `frame` (`sent` bytes of it) and waits until the listener's side has it all. */
async function holdStart(p: { raw: ByteConn; side: FrameRecorder }, frame: Uint8Array, sent: number): Promise<void> {
  p.raw.write([frame.slice(0, sent)]);
  await waitFor(() => p.side.conn.receivedBytes! >= sent || p.side.closeCalls.length > 0, { what: `${sent} bytes received` });
  expect(p.side.closeCalls).toEqual([]);
}

const waiting = (p: { side: FrameRecorder }) => waitFor(() => p.side.conn.waitingForRoom === true || p.side.closeCalls.length > 0, { what: 'waiting for room' });

describe('a connection whose partly received frame does not fit in maxPendingFrameBytes', () => {
  it('waits, and a later one waits behind it though its piece fits; both read their frames once the holder gives its room back', async () => {
    const { budget, peer } = await budgetListener();
    // The holder is charged its frame's length (past half of it): 1000 KiB of 1024.
    const holder = await peer();
    const holderFrame = encode(noise(1000 * KiB - 4, 1));
    await holdStart(holder, holderFrame, 600 * KiB);
    expect(budget.inUse).toBe(1000 * KiB);
    // w's 300 KiB frame does not fit: it waits, keeping what it has, reading paused.
    const w = await peer();
    const wFrame = encode(noise(300 * KiB, 2));
    w.raw.write([wFrame]);
    await waiting(w);
    // n's first piece would fit in the 24 KiB left (a block of 4 KiB), but w waits: n waits behind it.
    const n = await peer();
    const nFrame = encode(noise(6 * KiB, 3));
    await holdStart(n, nFrame, 100);
    await waiting(n);
    expect([budget.waiting, w.side.closeCalls, n.side.closeCalls]).toEqual([2, [], []]);
    holder.raw.write([holderFrame.slice(600 * KiB)]);
    await holder.side.frameCount(1);
    await w.side.frameCount(1);
    n.raw.write([nFrame.slice(100)]);
    await n.side.frameCount(1);
    expect([w.side.frames[0]!.body.length, n.side.frames[0]!.body.length]).toEqual([300 * KiB, 6 * KiB]);
    expect(Buffer.compare(concat([w.side.frames[0]!.header, w.side.frames[0]!.body]), wFrame)).toBe(0);
    expect([budget.inUse, budget.waiting]).toEqual([0, 0]);
    expect([holder.side.closeCalls, w.side.closeCalls, n.side.closeCalls]).toEqual([[], [], []]);
  });

  it('leaves the queue when it is closed while waiting (as the read timeout closes it), giving back what it held: none is held once all are gone', async () => {
    const { budget, peer } = await budgetListener();
    const holder = await peer();
    await holdStart(holder, encode(noise(900 * KiB - 4, 1)), 500 * KiB);
    // w holds 64 KiB and more of its frame, then waits for the rest.
    const w = await peer();
    const wFrame = encode(noise(512 * KiB - 4, 2));
    w.raw.write([wFrame]);
    await waiting(w);
    expect(budget.inUse).toBeGreaterThan(900 * KiB);
    w.side.conn.close();
    await w.side.closed;
    expect([budget.waiting, budget.inUse, w.side.frames]).toEqual([0, 900 * KiB, []]);
    holder.side.conn.close();
    await holder.side.closed;
    expect([budget.waiting, budget.inUse]).toEqual([0, 0]);
  });

  it('fails at once, as before, when its frame is longer than the whole budget: it would never fit', async () => {
    const { budget, peer } = await budgetListener();
    const holder = await peer();
    await holdStart(holder, encode(noise(900 * KiB - 4, 1)), 500 * KiB);
    // Claimed 2 MiB, 300 KiB of it sent: it does not fit beside the holder, and never would alone.
    const x = await peer();
    x.raw.write([concat([header(2 * MiB), noise(300 * KiB, 2)])]);
    const err = await x.side.closed;
    expect(err).toBeInstanceOf(FrameError);
    expect(err!.message).toMatch(/^partly received frames would hold \d+ bytes, over the maxPendingFrameBytes budget of 1048576$/);
    expect([budget.waiting, budget.inUse, holder.side.closeCalls]).toEqual([0, 900 * KiB, []]);
  });
});
