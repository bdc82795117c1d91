import type { Etcd3, Watcher } from 'etcd3';
import type { CallOptions } from './attempt-deadline.js';
import { ownWatch } from './own-watch.js';

export interface KeyReleaseOptions {
  client: Etcd3;
  key: string;
  /** The key is gone (`true`: write now), or the wait cannot be trusted (`false`: poll after the backoff). */
  onFreed: (seen: boolean) => void;
  /** Call options that bound one look at the key (a dead link would hold it for good). */
  bound: () => CallOptions;
  /** The time between looks at the key while waiting, in ms (the registrar's `checkEveryMs`, checked there): one key without its value each. */
  checkEveryMs: number;
}

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
 *
 * A watch can also die without a word: a link that goes dead without a reset (a NAT or firewall
 * that forgot the flow, a peer gone without a FIN) leaves etcd3's stream open with nothing on it,
 * and etcd3 sets no gRPC keepalive, so neither 'disconnected' nor 'error' ever comes and the
 * registration would wait for good. So, while it waits (and only then), it also looks at the key
 * every few seconds, one key without its value: gone, it is written; changed since the wait
 * began, unseen by the watch, the wait starts over. A look that fails is only retried at the next
 * one: on a dead link it ends at its deadline, which makes etcd3 reset the client's connections,
 * so the next look goes over a new one.
 */
export class KeyRelease {
  private watcher: Watcher | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private done = false;
  /** The revision the key was seen held at: a modification after it went past the watch. */
  private since = 0;

  constructor(private readonly o: KeyReleaseOptions) {}

  /** Watches for a delete after `revision`, the one at which the key was seen held. */
  start(revision: string): void {
    this.since = Number(revision);
    const w = ownWatch(this.o.client).key(this.o.key).startRevision(String(this.since + 1)).only('delete').watcher();
    this.watcher = w;
    w.on('delete', () => this.end(true));
    w.on('disconnected', () => this.end(false));
    w.on('error', () => this.end(false));
    this.lookLater();
  }

  close(): void {
    this.done = true;
    clearTimeout(this.timer);
    const w = this.watcher;
    this.watcher = undefined;
    void w?.cancel().catch(() => undefined);
  }

  /** One look at a time: the next is set only once this one settled (a look can take its whole bound). */
  private lookLater(): void {
    if (this.done) return;
    this.timer = setTimeout(() => void this.look(), this.o.checkEveryMs);
  }

  private async look(): Promise<void> {
    let kv;
    try {
      kv = (await this.o.client.kv.range({ key: Buffer.from(this.o.key), keys_only: true }, this.o.bound())).kvs[0];
    } catch {
      return this.lookLater(); // etcd out of reach: the registration is stale already, and says why
    }
    if (this.done) return;
    if (!kv) return this.end(true);
    // Written since it was seen held, so deleted in between or rewritten: the watch said nothing of it.
    if (Number(kv.mod_revision) > this.since) return this.end(false);
    this.lookLater();
  }

  private end(seen: boolean): void {
    if (this.done) return;
    this.close();
    this.o.onFreed(seen);
  }
}
