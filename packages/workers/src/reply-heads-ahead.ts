import { setImmediate } from 'node:timers';
import type { ServerRequest } from '@skein/stream';
import type { ReplyPacker } from './reply-batch.js';

/** What this needs of a call with a deadline as a worker runs it (WorkerRequest). */
export interface HeadAhead {
  readonly callId: number;
  readonly isAnswered: boolean;
  /** A copy of the head set so far (ServerRequest's): what went ahead is told by `aheadSent`, not by its identity. */
  readonly replyMetadataHead: Uint8Array | undefined;
  /** Queued here to go at the turn's end. */
  aheadDue: boolean;
  /** The head went ahead of the answer and nothing was set since: the answer does not send it again. */
  aheadSent: boolean;
}

/**
 * The reply metadata a handler in a worker set on a call with a deadline, sent to the server's
 * thread before the handler answers: at its deadline that thread answers the call Timeout
 * itself, as in process, and the Timeout carries what the handler set before it (in a turn that
 * ended before it) only if it is there. Once per event-loop turn and call, at the turn's end (a
 * setImmediate, after the turn's microtasks): a handler that answers within them (an `async` one
 * awaiting nothing slower) sends its head with its answer, in the turn's one batch, not in a
 * second one ahead of it; and the answer does not send again a head that went ahead unchanged.
 * Calls without a deadline (the server's thread never answers them alone) and calls that set
 * nothing never come here.
 */
export class ReplyHeadsAhead {
  private due: HeadAhead[] = [];

  constructor(
    private readonly replies: ReplyPacker,
    /** The worker's unanswered calls, by call id. */
    private readonly running: readonly (ServerRequest | undefined)[],
    /** Sends the batch the heads were written into (the worker's flush, queued). */
    private readonly flushSoon: () => void,
  ) {}

  /** `req`'s handler set an entry: its head goes at the turn's end, unless its answer goes first. */
  changed(req: HeadAhead): void {
    req.aheadSent = false;
    if (req.aheadDue) return;
    req.aheadDue = true;
    if (this.due.push(req) === 1) setImmediate(this.atTurnEnd);
  }

  /** Whether call `callId`'s head, about to go with its answer, went ahead of it already, unchanged. */
  sentAlready(callId: number): boolean {
    return (this.running[callId] as Partial<HeadAhead> | undefined)?.aheadSent === true;
  }

  /** The heads of the calls still unanswered at the turn's end, sent if there are any. */
  private readonly atTurnEnd = (): void => {
    if (this.write() !== 0) this.flushSoon();
  };

  /** Writes the heads due into the batch; returns how many. */
  private write(): number {
    const due = this.due;
    this.due = [];
    let written = 0;
    for (const req of due) {
      req.aheadDue = false;
      if (req.isAnswered || req.aheadSent) continue;
      const head = req.replyMetadataHead;
      if (head === undefined) continue;
      req.aheadSent = true;
      this.replies.head(req.callId, head);
      written++;
    }
    return written;
  }
}
