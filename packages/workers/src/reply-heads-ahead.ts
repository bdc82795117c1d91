import type { ServerRequest } from '@skein/stream';
import type { ReplyPacker } from './reply-batch.js';

/** What this needs of a call with a deadline as a worker runs it (WorkerRequest). */
export interface HeadAhead {
  readonly callId: number;
  readonly isAnswered: boolean;
  readonly replyMetadataHead: Uint8Array | undefined;
  /** Queued here to go at the turn's end. */
  aheadDue: boolean;
  /** The head that last went ahead of the answer: not sent again with it. */
  sentAhead: Uint8Array | undefined;
}

/**
 * The reply metadata a handler in a worker set on a call with a deadline, sent to the server's
 * thread before the handler answers: at its deadline that thread answers the call Timeout
 * itself, as in process, and the Timeout carries what the handler set before it (in a turn that
 * ended before it) only if it is there. Once per turn and call, at the turn's end, with the
 * turn's answers; not for a call answered in the same turn (its head goes with its answer), and
 * the answer does not send again a head that went ahead unchanged. Calls without a deadline
 * (the server's thread never answers them alone) and calls that set nothing never come here.
 */
export class ReplyHeadsAhead {
  private due: HeadAhead[] = [];

  constructor(
    private readonly replies: ReplyPacker,
    /** The worker's unanswered calls, by call id. */
    private readonly running: readonly (ServerRequest | undefined)[],
    /** Queues the turn's flush, which calls `write`. */
    private readonly flushSoon: () => void,
  ) {}

  /** `req`'s handler set an entry: its head goes at the turn's end. */
  changed(req: HeadAhead): void {
    if (req.aheadDue) return;
    req.aheadDue = true;
    if (this.due.push(req) === 1) this.flushSoon();
  }

  /** At the turn's end, before its answers are sent: the heads of the calls still unanswered. */
  write(): void {
    if (this.due.length === 0) return;
    const due = this.due;
    this.due = [];
    for (const req of due) {
      req.aheadDue = false;
      const head = req.replyMetadataHead;
      if (req.isAnswered || head === undefined || head === req.sentAhead) continue;
      req.sentAhead = head;
      this.replies.head(req.callId, head);
    }
  }

  /** Whether `head`, about to go with call `callId`'s answer, went ahead of it already. */
  sentAlready(callId: number, head: Uint8Array): boolean {
    return (this.running[callId] as Partial<HeadAhead> | undefined)?.sentAhead === head;
  }
}
