import type { Etcd3, Watcher } from 'etcd3';
import { ownWatch } from './own-watch.js';

/**
 * Waits for a key that another registration holds to be deleted (its holder closed, or died and
 * its lease expired), so that a registration waiting for it writes it at once instead of on its
 * next poll, seconds later, while clients have no entry for the id.
 *
 * Says so once (`onFreed(true)`), then stops. If the watch may miss the delete, it says
 * `onFreed(false)` instead, and the registration falls back to one poll after its backoff (which
 * waits again if the key is still held): etcd canceled the watch (its start revision compacted),
 * or the stream broke (etcd3 would resume it from a header revision that can be past a delete not
 * yet delivered, and only after its own backoff of up to 30 s).
 */
export class KeyRelease {
  private watcher: Watcher | undefined;
  private done = false;

  constructor(
    private readonly client: Etcd3,
    private readonly key: string,
    private readonly onFreed: (seen: boolean) => void,
  ) {}

  /** Watches for a delete after `revision`, the one at which the key was seen held. */
  start(revision: string): void {
    const w = ownWatch(this.client).key(this.key).startRevision(String(Number(revision) + 1)).only('delete').watcher();
    this.watcher = w;
    w.on('delete', () => this.end(true));
    w.on('disconnected', () => this.end(false));
    w.on('error', () => this.end(false));
  }

  close(): void {
    this.done = true;
    const w = this.watcher;
    this.watcher = undefined;
    void w?.cancel().catch(() => undefined);
  }

  private end(seen: boolean): void {
    if (this.done) return;
    this.close();
    this.onFreed(seen);
  }
}
