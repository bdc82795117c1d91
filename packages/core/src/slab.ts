/**
 * Append-only memory for transports' copies of small parts, shared by many connections (one
 * block at a time in all, not one per connection). A writer reserves a stretch, fills it, and
 * gives back what it did not use when it flushes, so idle connections hold no memory and busy
 * ones each fill a contiguous run, turn after turn, without allocating per turn. Bytes once
 * written are never written over: views of them go to sockets, which may hold them until the
 * kernel has taken them. A full block is let go (the views still in flight keep it alive) and a
 * fresh one started.
 */
export class Slab {
  private current: Uint8Array | undefined;
  private used = 0;

  constructor(readonly size: number) {}

  /** The block the last reservation is in. */
  get block(): Uint8Array {
    return this.current!;
  }

  /** Reserves `n` contiguous bytes (n ≤ size), in a fresh block when the current one has less left; returns their offset in `block`. */
  reserve(n: number): number {
    if (this.current === undefined || this.size - this.used < n) {
      this.current = new Uint8Array(this.size);
      this.used = 0;
    }
    const start = this.used;
    this.used += n;
    return start;
  }

  /** Gives back the unused end [from, to) of a reservation, if nothing was reserved after it. */
  release(block: Uint8Array, from: number, to: number): void {
    if (block === this.current && this.used === to) this.used = from;
  }
}
