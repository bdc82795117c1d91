/** The wait before the second replacement in a row of workers that answered nothing; doubled per death after. */
export const FIRST_BACKOFF_MS = 100;
/** The longest wait: a module that always dies costs one worker start per slot per this, at most. */
export const MAX_BACKOFF_MS = 10_000;

/**
 * When to replace a worker that died. A module that loads and then dies on its own (a timer that
 * throws, a rejected connection nobody awaits), or a call that kills every worker it reaches,
 * would otherwise be replaced at once, again and again: a thread started and a module loaded,
 * and an error line, as fast as they can be. A worker that answered no call before it died counts
 * a death in a row for its place; one that answered any ends the row. The first death of a row is
 * replaced at once, as ever; each next one waits twice as long as the last (100 ms, 200 ms, ...,
 * at most 10 s). No clock is read: what ends a row is an answer, not time.
 */
export class RespawnBackoff {
  /** Deaths in a row of the workers at each place that answered no call. */
  private readonly row: number[] = [];
  private readonly timers = new Map<number, ReturnType<typeof setTimeout>>();

  /** How long to wait before replacing the worker at `index`, which just died (`answered`: it answered a call). */
  delayFor(index: number, answered: boolean): number {
    const n = answered ? 0 : (this.row[index] ?? 0) + 1;
    this.row[index] = n;
    return n <= 1 ? 0 : Math.min(FIRST_BACKOFF_MS * 2 ** (n - 2), MAX_BACKOFF_MS);
  }

  /** Replaces later: `spawn` runs after `ms`, unless `cancel` comes first. */
  later(index: number, ms: number, spawn: () => void): void {
    this.timers.set(
      index,
      setTimeout(() => {
        this.timers.delete(index);
        spawn();
      }, ms),
    );
  }

  /** A replacement is waiting its turn: the calls queued for it wait too, rather than fail. */
  get pending(): boolean {
    return this.timers.size > 0;
  }

  /** The pool ends: no replacement starts after it. */
  cancel(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
