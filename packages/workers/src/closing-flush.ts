import type { WorkerSlot } from './worker-slot.js';

/**
 * How long a closing pool waits for its workers' dispatches to say what they counted: a worker
 * that cannot answer (its thread blocked) must not hold the close; it is ended unheard.
 */
export const CLOSING_FLUSH_MS = 1000;

/**
 * A graceful close's last word to the workers. Each worker's dispatch lives in its thread, with
 * what it counted and has not logged yet (a WithheldLog's counts, said at `Dispatch.serverClosed`);
 * `terminate()` would lose it. So each live worker is told (`closing`), and the pool waits for
 * each one's answer or exit, bounded by `CLOSING_FLUSH_MS`, before it ends them.
 */
export class ClosingFlush {
  private readonly left = new Set<WorkerSlot>();
  private done: (() => void) | undefined;

  /** Resolves once every live worker answered or exited, or the bound passed, or `cut()`. */
  run(slots: readonly WorkerSlot[], ms = CLOSING_FLUSH_MS): Promise<void> {
    for (const s of slots) {
      if (s.state !== 'ready') continue;
      s.tell({ t: 'closing' });
      this.left.add(s);
    }
    if (this.left.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.cut(), ms);
      this.done = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** The worker answered, or exited: heard from, either way. */
  settled(slot: WorkerSlot): void {
    if (this.left.delete(slot) && this.left.size === 0) this.cut();
  }

  /** Waits no more (the bound passed, or the pool is being destroyed). */
  cut(): void {
    this.left.clear();
    const done = this.done;
    this.done = undefined;
    done?.();
  }
}
