/**
 * One encoder (or decoder) per nesting level of extension payloads, made on first use. An
 * extension's payload is itself msgpack, encoded while the outer encoder is busy; the library
 * would clone a fresh, unguarded encoder for every such call. The limit stops a Map that
 * contains itself, and hostile input nesting extensions without end.
 */
export class Nesting<T> {
  private readonly levels: T[] = [];
  private depth = 0;

  constructor(
    private readonly make: () => T,
    private readonly limit = 100,
  ) {}

  run<R>(work: (instance: T) => R): R {
    if (this.depth >= this.limit) throw new RangeError(`extension values nested deeper than ${this.limit}`);
    const instance = (this.levels[this.depth] ??= this.make());
    this.depth++;
    try {
      return work(instance);
    } finally {
      this.depth--;
    }
  }
}
