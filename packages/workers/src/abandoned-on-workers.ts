import type { ServerRequest } from '@skein/stream';
import type { HandlerEndsMessage } from './messages.js';
import type { WorkerSlot } from './worker-slot.js';

/**
 * The pool's side of `Dispatch.tellsHandlerEndOf`: the handlers its workers run on past their
 * calls' answers (a cancel, a deadline, a handler timeout there) count against their
 * connections as the server's own loop's do (at most twice `maxInFlightPerConn` handlers running
 * per connection), until their worker says they ended (`HandlerEndsMessage`) or exits. Before,
 * a worker answered such a call at once and freed its places, and nothing counted the handler
 * left running: a client that abandoned every call it made to a handler that ignores its signal
 * ran any number of them at once. Out of the pool because no call's path comes here: only a
 * call abandoned while its handler runs, which the server asks about, and the worker's word.
 */
export class AbandonedOnWorkers {
  /** By call id: its server counts the held call's handler (it asked, and was told yes). */
  private readonly counted: Uint8Array;
  /** By call id: its worker said its handler runs on past the answer coming: that answer ends nothing. */
  private readonly runsOn: Uint8Array;

  constructor(
    /** The pool's held calls by call id, and the worker that holds each (the same arrays, for the pool's life). */
    private readonly held: readonly (ServerRequest | undefined)[],
    private readonly holder: readonly (WorkerSlot | undefined)[],
  ) {
    this.counted = new Uint8Array(held.length);
    this.runsOn = new Uint8Array(held.length);
  }

  /**
   * The server asks, for a call abandoned while its handler runs (or at `runsOn`): true when a
   * worker holds it, for then the pool tells its handler's end (a late answer, the worker's word,
   * or its exit). A call still queued has no handler running, and is skipped at its turn.
   */
  tells(req: ServerRequest): boolean {
    const id = this.held.indexOf(req);
    if (id < 0) return false;
    this.counted[id] = 1;
    return true;
  }

  /** What `slot`'s worker says of its handlers that run on, and of those that ended. */
  heard(slot: WorkerSlot, m: HandlerEndsMessage): void {
    for (let i = 0; i < m.ids.length; i++) {
      const id = m.ids[i]!;
      const req = this.held[id];
      if (req === undefined || this.holder[id] !== slot) continue;
      // Its worker answers it now while the handler runs on (its own handler timeout): counted
      // from before that answer, as in process (`ServerRequest.runsOn`); the server asks `tells`.
      if (!req.isAnswered) req.runsOn();
      if (this.counted[id] !== 1) continue;
      this.runsOn[id] = 1;
      slot.runningOn.set(m.tokens[i]!, req);
    }
    for (const token of m.ended) {
      const req = slot.runningOn.get(token);
      if (req === undefined) continue;
      slot.runningOn.delete(token);
      req.handlerEnded();
    }
  }

  /**
   * Call `id`, holding `req`, is answered by its worker (or failed at its worker's end): whether
   * that answer goes to `req`. Not when `req` was answered already and its handler runs on: a late
   * answer would tell the server the handler ended.
   */
  released(id: number, req: ServerRequest): boolean {
    this.counted[id] = 0;
    if (this.runsOn[id] === 0) return true;
    this.runsOn[id] = 0;
    return !req.isAnswered;
  }

  /** `slot`'s worker is gone, and the handlers it ran with it. */
  exited(slot: WorkerSlot): void {
    const reqs = [...slot.runningOn.values()];
    slot.runningOn.clear();
    for (const req of reqs) req.handlerEnded();
  }
}
