/** Slots a table starts with; it doubles while more than half are taken, up to MAX_SLOTS. */
const MIN_SLOTS = 16;
const MAX_SLOTS = 1 << 16;

/**
 * Calls on the wire by seq. Seqs are handed out in order and calls mostly settle within a
 * window of each other, so a ring of slots indexed by a seq's low bits holds them: a lookup
 * is one index and one compare, and a call in and out writes two slots and allocates nothing.
 * A call still waiting when its slot comes round again (a slow one, overtaken by a ring's worth
 * of others) moves to a Map, which is empty in the usual case.
 *
 * Why not a Map alone: a Map with a set and a delete per call rehashes into a fresh backing
 * table every few hundred calls, and V8 links each old table to its successor (for iterators).
 * Once one table has been promoted to the old generation, that link keeps the next one, and the
 * calls it holds, alive through every young-generation collection, and so on down the chain
 * until a full collection: measured on the benchmark client, half of all young objects
 * survived each scavenge and the client spent a fifth of its time in GC (docs/benchmarks.md).
 */
export class SeqTable<T> {
  private items: (T | undefined)[] = new Array<T | undefined>(MIN_SLOTS).fill(undefined);
  private seqs: number[] = new Array<number>(MIN_SLOTS).fill(-1);
  private mask = MIN_SLOTS - 1;
  /** Calls in the ring. */
  private inRing = 0;
  /** Calls moved out of the ring by a newer one in their slot. */
  private readonly spilled = new Map<number, T>();

  get size(): number {
    return this.inRing + this.spilled.size;
  }

  /** Adds `item` under `seq`, a seq not in the table. */
  set(seq: number, item: T): void {
    if (this.inRing * 2 >= this.items.length && this.items.length < MAX_SLOTS) this.grow();
    const i = seq & this.mask;
    const there = this.items[i];
    if (there === undefined) this.inRing++;
    else this.spilled.set(this.seqs[i]!, there);
    this.items[i] = item;
    this.seqs[i] = seq;
  }

  get(seq: number): T | undefined {
    const i = seq & this.mask;
    if (this.seqs[i] === seq) return this.items[i];
    return this.spilled.size === 0 ? undefined : this.spilled.get(seq);
  }

  /** Removes `seq`; false when it was not there. */
  delete(seq: number): boolean {
    const i = seq & this.mask;
    if (this.seqs[i] === seq && this.items[i] !== undefined) {
      this.items[i] = undefined;
      this.seqs[i] = -1;
      this.inRing--;
      return true;
    }
    return this.spilled.size !== 0 && this.spilled.delete(seq);
  }

  /** Every item, in no set order: a copy, as settling one may change the table. */
  values(): T[] {
    const out: T[] = [];
    for (const item of this.items) if (item !== undefined) out.push(item);
    for (const item of this.spilled.values()) out.push(item);
    return out;
  }

  clear(): void {
    this.items.fill(undefined);
    this.seqs.fill(-1);
    this.inRing = 0;
    this.spilled.clear();
  }

  /** Twice the slots: a seq's slot in the larger ring is its old one or that plus the old size, so none collide. */
  private grow(): void {
    const { items, seqs } = this;
    const n = items.length * 2;
    this.items = new Array<T | undefined>(n).fill(undefined);
    this.seqs = new Array<number>(n).fill(-1);
    this.mask = n - 1;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item === undefined) continue;
      const j = seqs[i]! & this.mask;
      this.items[j] = item;
      this.seqs[j] = seqs[i]!;
    }
  }
}
