import type { Call } from './call.js';

/** Slots in the ring: a power of two. At 25 ms a slot it spans 6.4 s; later deadlines wait their turn round. */
const SLOTS = 256;
const MASK = SLOTS - 1;

/**
 * The pending calls of a stream by deadline (in ticked time), so that a tick looks only at the
 * calls due around it, not at every call: a hashed timing wheel of `SLOTS` slots of `width` ms,
 * each a doubly linked list threaded through the calls themselves. Adding or removing a call
 * allocates nothing and costs a few stores; a deadline beyond one turn of the ring is looked at
 * once per turn and left until its time.
 */
export class DeadlineWheel {
  private readonly ring: (Call | undefined)[] = new Array<Call | undefined>(SLOTS).fill(undefined);
  /** The first slot number not swept through yet. */
  private next = 0;
  /** Calls taken out by a sweep, settled after it (a settling call's callback may change the wheel). */
  private readonly due: Call[] = [];

  constructor(private readonly width: number) {}

  add(call: Call): void {
    const slot = this.slotOf(call.deadline);
    const head = this.ring[slot];
    call.prev = undefined;
    call.next = head;
    if (head) head.prev = call;
    this.ring[slot] = call;
  }

  /** Takes a call out (it settled); a call not in the wheel (deadline -1) is left alone. */
  remove(call: Call): void {
    const deadline = call.deadline;
    if (deadline < 0) return;
    const { prev, next } = call;
    if (prev) prev.next = next;
    else this.ring[this.slotOf(deadline)] = next;
    if (next) next.prev = prev;
    call.prev = call.next = undefined;
    call.deadline = -1;
  }

  /** Takes out every call due by `now` and hands each to `expire`, in no set order. Returns how many. */
  sweep(now: number, expire: (call: Call) => void): number {
    const last = Math.floor(now / this.width);
    // Slots before `last` are wholly due; `last` only up to `now`, so it is swept again next time.
    // One turn of the ring visits every slot, however far `now` moved.
    for (let k = Math.max(this.next, last - MASK); k <= last; k++) {
      for (let call = this.ring[k & MASK]; call; ) {
        const after: Call | undefined = call.next;
        if (call.deadline <= now) {
          this.remove(call);
          this.due.push(call);
        }
        call = after;
      }
    }
    this.next = last;
    const due = this.due;
    const n = due.length;
    for (let i = 0; i < n; i++) expire(due[i]!);
    due.length = 0;
    return n;
  }

  private slotOf(deadline: number): number {
    return Math.floor(deadline / this.width) & MASK;
  }

  /** Forgets every call (the stream failed them all). */
  clear(): void {
    this.ring.fill(undefined);
  }
}
