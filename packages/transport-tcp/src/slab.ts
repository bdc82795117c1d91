/**
 * Append-only memory for the copies of small parts, shared by the connections of a transport
 * (one 64 KiB block per transport, not per connection). Bytes once written are never written
 * over: views of them go to sockets, which may hold them until the kernel has taken them. A
 * full block is let go (the views still in flight keep it alive) and a fresh one started.
 */
export class Slab {
  private block: Uint8Array | undefined;
  private used = 0;

  constructor(private readonly size: number) {}

  /** The block the next byte goes into, and the offset it goes to. */
  get memory(): Uint8Array {
    if (this.block === undefined || this.used === this.size) {
      this.block = new Uint8Array(this.size);
      this.used = 0;
    }
    return this.block;
  }

  get offset(): number {
    return this.used;
  }

  /** Copies from `src[from]` into `memory` at `offset`, as much as fits; returns the count. */
  copy(src: Uint8Array, from: number): number {
    const memory = this.memory;
    const n = Math.min(this.size - this.used, src.length - from);
    memory.set(from === 0 && n === src.length ? src : src.subarray(from, from + n), this.used);
    this.used += n;
    return n;
  }
}
