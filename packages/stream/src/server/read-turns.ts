import { afterMacrotask } from '@skein/core';

/**
 * The most frames one connection reads in one turn of the event loop (one macrotask and the
 * microtasks it queued) before it yields: its reading pauses after that frame and goes on in the
 * next turn, so other connections' reads, the server's tick and timers run in between, and the
 * replies of what it read (handlers that answer in microtasks) reach the send buffer before it
 * reads more, where a full buffer pauses it (`congested`) instead of queueing replies to a peer
 * that never reads. Pings, cancels and stream credit count too: a flood of them stalls as well.
 *
 * 64, of 64 and 256 measured: its cost is lost in the noise of benchmarks/js-cost.js at 256 in
 * flight as 256's is (it yields every 64 frames there: four reads a turn instead of one), and it
 * bounds a flood four times tighter: a turn of one connection runs 64 handlers at most, and a peer
 * that never reads pins 64 replies past its full buffer (1,000 pipelined requests for 300 KB
 * replies pinned 282 MB before, 14 MB now; 1,000 handlers of 2 ms stalled the loop 2.1 s, now
 * ~0.3 s: a read in the poll phase and the resume in the check phase make two budgets between
 * timer phases). A Skein client's default window (128) is read in two turns.
 */
export const FRAMES_PER_TURN = 64;

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
