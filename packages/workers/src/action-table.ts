/**
 * The string actions the pool has seen, numbered, so that a batch names a known action by a
 * number instead of sending (and the worker rebuilding) its string with every call. Each worker
 * keeps the same list, sent to it in order as it grows. The list is capped: a peer sending
 * endless distinct names must not grow it without bound, and past the cap names travel as
 * strings again.
 */
export class ActionTable {
  static readonly CAP = 1024;
  readonly names: string[] = [];
  private readonly ids = new Map<string, number>();

  /** The name's number, or -1 when the table is full and the name is not in it. */
  idOf(name: string): number {
    const id = this.ids.get(name);
    if (id !== undefined) return id;
    if (this.names.length >= ActionTable.CAP) return -1;
    this.ids.set(name, this.names.length);
    return this.names.push(name) - 1;
  }
}
