import { ErrorCode } from '@skein/core';
import { actionName, type ServerRequest } from '@skein/stream';
import type { InputQueue } from './input-queue.js';
import { batchAfter } from './messages-taken.js';
import type { WorkerSlot } from './worker-slot.js';

/** What settling a dead worker's calls needs of the pool. */
export interface HeldLink {
  /** The worker that holds each call, by call id, and the number of the batch each was sent in. */
  readonly holder: readonly (WorkerSlot | undefined)[];
  readonly sentIn: Int32Array;
  /** The input queue: calls that never ran go back to its head. */
  readonly queue: InputQueue;
  /** `destroy()`: calls that never ran fail Closed instead of waiting for another worker. */
  readonly cutting: boolean;
  readonly expose: boolean;
  /** Takes a held call off the books, and off its worker's count. */
  release(id: number): ServerRequest | undefined;
}

/** What became of the calls a worker held when it ended: how many failed IO, how many were queued again. */
export interface HeldOutcome {
  readonly failed: number;
  readonly untaken: number;
}

/**
 * Settles the calls a dead worker held. Those in a batch it took may have run: they fail IO.
 * Those in batches it never took off its port (its thread blocked or died first) never ran:
 * they go back to the head of the queue for another worker, or, when the pool is being
 * destroyed, fail Closed, bare (unrun), as the queued ones do. Out of the pool because only a
 * worker's end comes here.
 */
export function settleHeld(link: HeldLink, slot: WorkerSlot, why: string): HeldOutcome {
  const ran: ServerRequest[] = [];
  const unrun: { req: ServerRequest; seq: number }[] = [];
  for (let id = 0; id < link.holder.length; id++) {
    if (link.holder[id] !== slot) continue;
    const seq = link.sentIn[id]!;
    const req = link.release(id);
    // Answered already, its handler running on (abandoned-on-workers.ts): ended with its worker.
    if (req === undefined) continue;
    if (slot.neverTook(seq)) {
      // Never run, though its server may count its handler (asked while it was held): none runs.
      if (req.isAnswered) req.handlerEnded();
      unrun.push({ req, seq });
    }
    else ran.push(req);
  }
  const cutting = link.cutting;
  if (unrun.length !== 0 && !cutting) {
    // Batch by batch in the order they were sent, ahead of the calls that came after them. Within
    // a batch, in the order of their places (ids are reused, so not always the order sent):
    // calls in flight together carry no order between them, and keeping it would cost a store
    // per call on the way out for a path only a dead worker takes.
    // Batch numbers wrap at 2^31: compared as the worker compares them, not by size.
    unrun.sort((a, b) => (a.seq === b.seq ? 0 : batchAfter(a.seq, b.seq) ? 1 : -1));
    link.queue.pushFront(unrun.map((u) => u.req));
  }
  // Answered once the queue is consistent: the last answer may end its connection.
  if (cutting) for (const { req } of unrun) req.fail(ErrorCode.Closed);
  for (const req of ran) req.fail(ErrorCode.IO, link.expose ? `${actionName(req.action)}: worker ${slot.index} ${why} while holding this call; the handler may have run` : undefined);
  return { failed: ran.length, untaken: cutting ? 0 : unrun.length };
}

/**
 * The error line for a worker that ended unasked: why, what became of its calls, and whether it
 * was replaced (`waitMs`: how long the replacement waits, see respawn-backoff.ts).
 */
export function exitLine(slot: WorkerSlot, why: string, { failed, untaken }: HeldOutcome, replaced: boolean, waitMs = 0): string {
  const again = untaken === 0 ? '' : untaken === 1 ? '; 1 call it had not taken was queued again' : `; ${untaken} calls it had not taken were queued again`;
  const how = !replaced ? 'not replaced' : waitMs === 0 ? 'replaced' : `replaced in ${waitMs} ms (the worker before it here died too, answering no call)`;
  return `worker ${slot.index} ${why}; ${heldFailed(failed)}${again}; ${how}`;
}

/** What became of the calls a worker held when it ended, in words a log line reads right at 0 and 1 too. */
function heldFailed(n: number): string {
  if (n === 0) return 'it held no calls';
  return n === 1 ? 'the 1 call it held failed (it may have run)' : `the ${n} calls it held failed (they may have run)`;
}
