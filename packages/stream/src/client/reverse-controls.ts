import type { Clock, Ticker } from '@skein/core';
import { CallControl, type ControlOwner } from '../server/call-control.js';
import { DEADLINE_TICK_MS } from '../server/conn-extensions.js';
import type { ServerRequest } from '../server/request.js';
import { NO_METADATA, type Metadata } from '../wire/call-head.js';
import { SeqTable } from '../internals/seq-table.js';

/**
 * The connecting side's reverse calls that came with a deadline (wire/reverse-control.ts): each
 * gets a CallControl, as a forward call with a head does on a server, so that its handler sees
 * `req.deadline` and `req.signal` the same way, the signal aborting with Timeout at the deadline
 * (the call answered Timeout then) and with Cancelled at the server's cancel (answered never).
 * Made at the first such call: a side the server never calls keeps nothing for it.
 */
export class ReverseControls implements ControlOwner {
  private readonly tracked = new SeqTable<CallControl>();
  /** Tracked calls with a deadline: the ticker runs while there are any. */
  private timed = 0;
  private ticker: Ticker | undefined;

  constructor(private readonly clock: Clock) {}

  /** A call of this seq is running with its control: a second one under it would make one of them deaf to its cancel. */
  has(seq: number): boolean {
    return this.tracked.get(seq) !== undefined;
  }

  /**
   * Gives `req` its control: a deadline `remainingMs` from now (its arrival), or none, and the
   * metadata its head carried (a headed call's, wire/reverse-heads.ts). A deadline already passed
   * (`remainingMs` 0) is answered Timeout here, unrun: returns false then.
   */
  track(req: ServerRequest, seq: number, remainingMs: number | undefined, metadata: Metadata = NO_METADATA): boolean {
    const now = remainingMs === undefined ? 0 : this.clock.now();
    const control = new CallControl(this, req, seq, remainingMs === undefined ? undefined : now + remainingMs, metadata, this.clock);
    req.control = control;
    if (remainingMs === 0) {
      control.expire();
      // Its handler never starts: it must not count as one running abandoned.
      req.handlerEnded();
      return false;
    }
    this.tracked.set(seq, control);
    if (control.deadline !== undefined) this.watch();
    return true;
  }

  /** The server gave up on reverse call `seq`: its handler's signal aborts, nothing is answered. One not running is ignored. */
  cancel(seq: number): void {
    this.tracked.get(seq)?.cancel('the server');
  }

  untrack(control: CallControl): void {
    if (this.tracked.delete(control.seq) && control.deadline !== undefined && --this.timed === 0) this.stopTicker();
  }

  /** The connection is gone: every tracked call's signal fires. */
  close(cause: Error): void {
    this.stopTicker();
    const controls = this.tracked.values();
    this.tracked.clear();
    this.timed = 0;
    for (const c of controls) c.lost(cause);
  }

  private watch(): void {
    this.timed++;
    this.ticker ??= this.clock.every(DEADLINE_TICK_MS, this.check);
  }

  private readonly check = (): void => {
    const now = this.clock.now();
    for (const c of this.tracked.values()) if (c.deadline !== undefined && c.deadline <= now) c.expire();
  };

  private stopTicker(): void {
    this.ticker?.stop();
    this.ticker = undefined;
  }
}
