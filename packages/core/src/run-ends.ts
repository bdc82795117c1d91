/** What RunEnds ends: a RunBatch. */
export interface RunEnder {
  ended(): void;
}

/**
 * The batches whose flush is due at the end of the run (or of the macrotask), in the order they
 * asked, ended by one scheduled callback for all of them: a callback per batch would be a
 * closure per connection that ever wrote (96 B each, at 10,000 idle connections;
 * docs/benchmarks.md, "Memory"). A batch asks once per run, so its flush comes where its own
 * callback's would, or earlier (at the first batch's, when others were queued in between),
 * never later.
 */
export class RunEnds {
  private readonly due: RunEnder[] = [];
  /** The next of `due` to end. */
  private next = 0;
  private readonly endAll = (): void => this.end();

  constructor(private readonly schedule: (fn: () => void) => unknown) {}

  add(batch: RunEnder): void {
    if (this.due.push(batch) === 1) this.schedule(this.endAll);
  }

  /** A batch added meanwhile is ended in this pass; after one that throws, the rest are ended by the next. */
  private end(): void {
    const due = this.due;
    try {
      while (this.next < due.length) due[this.next++]!.ended();
    } finally {
      if (this.next < due.length) {
        this.schedule(this.endAll);
      } else {
        due.length = 0;
        this.next = 0;
      }
    }
  }
}
