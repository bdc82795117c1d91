/** A stream's sending side (its CreditGate), whose write waits for its connection's send buffer to drain. */
export interface Drainable {
  /** `by`: the waiters that held it (a stream a pool moved may still be listed by its old connection's). */
  drained(by: DrainWaiters): void;
}

/**
 * The streams of one connection whose writes wait for its send buffer to drain, woken together
 * when it does. Credit is the receiver's word for what it takes; the send buffer is what it
 * does take: a peer that grants 4 GiB and reads nothing must cost its connection's send buffer,
 * not what the writer writes.
 */
export class DrainWaiters {
  private held: Drainable[] | undefined;

  hold(stream: Drainable): void {
    (this.held ??= []).push(stream);
  }

  /** The send buffer drained: every held write goes on. */
  drained(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    for (const s of held) s.drained(this);
  }

  /** The connection is gone: its streams fail on their own (or, a pool's moved elsewhere, are held again where they open: `CreditGate.carriedTo`). */
  clear(): void {
    this.held = undefined;
  }
}
