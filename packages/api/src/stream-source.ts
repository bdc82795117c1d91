/**
 * A stream's source (a client stream's argument, a server stream handler's result) walked as
 * `for await` walks it, and stopped as a `break` stops it: its `return`, once. A stream that is
 * over stops its source at once: one that waits for its next value (an event source) may never
 * yield again, and would keep its listeners, and the loop reading it, for ever.
 */
export class StreamSource {
  private readonly it: AsyncIterator<unknown> | Iterator<unknown>;
  private readonly sync: boolean;
  /** Returned, ended or thrown: nothing left to stop. */
  private over = false;

  /** Throws a TypeError, as `for await` does, for a value that is no iterable. */
  constructor(values: AsyncIterable<unknown> | Iterable<unknown>) {
    const asyncOf = (values as AsyncIterable<unknown>)[Symbol.asyncIterator];
    this.sync = typeof asyncOf !== 'function';
    this.it = this.sync ? (values as Iterable<unknown>)[Symbol.iterator]() : asyncOf.call(values);
  }

  /** The next value; a plain iterable's values are awaited, as `for await` awaits them (they may be promises). */
  async next(): Promise<IteratorResult<unknown>> {
    try {
      const r = await this.it.next();
      if (r.done === true) this.over = true;
      else if (this.sync) return { done: false, value: await r.value };
      return r;
    } catch (e) {
      this.over = true;
      throw e;
    }
  }

  /** Stops the source, once; what its `return` throws is its own and nobody's to see (the stream is over). */
  async stop(): Promise<void> {
    if (this.over) return;
    this.over = true;
    try {
      await this.it.return?.();
    } catch {
      // As `for await` on a break that a throw caused: the first error is the one that counts.
    }
  }
}
