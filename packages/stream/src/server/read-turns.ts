import { afterMacrotask } from '@skein/core';

/**
 * The most frames one connection reads in one turn of the event loop (one macrotask and the
 * microtasks it queued) before it yields: its reading pauses after that frame and goes on in the
 * next turn, so other connections' reads, the server's tick and timers run in between, and the
 * replies of what it read (handlers that answer in microtasks) reach the send buffer before it
 * reads more, where a full buffer pauses it (`congested`) instead of queueing replies to a peer
 * that never reads. Pings, cancels and stream credit count too: a flood of them stalls as well.
 *
 * 256: a turn of one connection runs 256 handlers at most, and a peer that never reads pins 256
 * replies past its full buffer, where before every frame of a read ran (1,000 pipelined requests
 * for 300 KB replies pinned 282 MB; a budget of 64 pinned 14 MB). 64 bounded a flood four times
 * tighter but cost a stream-heavy connection dearly: a read of 50 stream openings and their
 * cancels took two turns, and between them 50 producers wrote up to their windows of items, which
 * the client then read and dropped (packages/stream/test/abort-source.test.ts's storm of streams:
 * 10.6 s with none, 32 s with 64, 11.8 s with 256). A Skein client's default window (128) is read
 * in one turn; benchmarks/js-cost.js at 256 in flight yields about once a read.
 */
export const FRAMES_PER_TURN = 256;

/** What the turn's end calls back: a connection that read frames in it. */
export interface TurnReader {
  turnOver(): void;
}

/** Connections that read a frame in this turn, each once (at its first frame). */
let readers: TurnReader[] = [];

/** The turn's end: each connection that read starts counting again, and one that yielded reads on. */
function turnOver(): void {
  const ended = readers;
  // A new list first: a connection that reads on at once (a held request run as it resumes) counts in the next turn.
  readers = [];
  for (const r of ended) r.turnOver();
}

/**
 * A connection read its first frame of this turn: it is told at the turn's end. One callback for
 * every connection, scheduled by the first (no clock read, nor timer, per frame or per connection).
 */
export function firstReadOfTurn(r: TurnReader): void {
  if (readers.push(r) === 1) afterMacrotask(turnOver);
}
