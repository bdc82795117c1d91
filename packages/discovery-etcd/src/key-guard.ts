import { Backoff } from '@skein/stream';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { CallOptions } from './attempt-deadline.js';
import { ownWatch } from './own-watch.js';
import { failureReason } from './failure-reason.js';

/** What a KeyGuard tells its registration. */
export interface KeyGuardEvents {
  /** The key is not ours any more: `holder` is the lease it is under now (taken), or undefined (deleted); `revision` the change's. */
  lost(holder: string | undefined, revision: string): void;
  /** The guard cannot see the key (a read of it failed, `why`): it may have been taken unseen. Said again if `why` changes. */
  blind(why: string): void;
  /** It sees the key again, still ours. */
  sighted(): void;
}

export interface KeyGuardOptions {
  client: Etcd3;
  key: string;
  /** The lease the key was written under, as etcd spells it (a decimal string). */
  leaseId: string;
  events: KeyGuardEvents;
  /** Delays between attempts to read the key again after a read failed. */
  backoff: Backoff;
  /** Call options that bound one read (a silent etcd would hold it for good). */
  bound: () => CallOptions;
  /** The time between reads of the key while it is watched, in ms (the registrar's `checkEveryMs`, checked there). */
  checkEveryMs: number;
}

/**
 * Watches a registration's own key while its lease lives, to learn when the key stops being
 * ours although the lease is kept alive: another registration of the same id wrote it (a server
 * started again before the old one went, or two servers given one id), or someone deleted it.
 * Without it the displaced registration would say `live` while clients route elsewhere.
 *
 * Says `lost` once, then stops. The watch starts after the revision we wrote, so our own write
 * is not seen; a put under any other lease, or a delete, is a loss. Each watch reads the key once
 * it is connected, and so does a watch that etcd canceled (compacted, or no longer permitted),
 * before watching again. A watch whose stream broke (etcd restarted, out of reach) is not left to
 * etcd3's resubscription, which waits on etcd3's own backoff (up to 30 s) and resumes from a
 * response's revision that can be past changes not yet delivered: it is dropped, and the key is
 * read and watched again after the registration's `backoff`, as the LeaseKeeper opens its stream
 * again. A read that fails is tried again with backoff until it succeeds or the guard is closed,
 * and the registration is told it is `blind` meanwhile: a guard that gave up would leave it saying
 * `live` about a key it cannot see.
 *
 * The key is also read every `checkEveryMs` while it is watched (one bounded read of one key, no
 * value), as a discovery's watch is checked (see WatchCheck): a watch's stream takes no deadline,
 * so one on a stalled member (SIGSTOP, a frozen host: its kernel still accepts, nothing answers)
 * stayed open and silent, and the key taken or deleted through the other members went unseen, the
 * registration `live` (20 s and more in `test/stalled-stream.test.ts`, for as long as the member
 * stayed stalled). The read goes through any member that answers and is the truth about the key,
 * so one that finds it under another lease, or gone, is a loss at once; one that fails is `blind`.
 */
export class KeyGuard {
  private watcher: Watcher | undefined;
  /** The next read of the key: a periodic check while watched, a retry after a failure, or a rewatch. */
  private timer: ReturnType<typeof setTimeout> | undefined;
  private done = false;
  /** Why the last read failed, while blind. */
  private blindWhy: string | undefined;

  constructor(private readonly o: KeyGuardOptions) {}

  /** Watches every change after `revision`, the one our write made. */
  start(revision: string): void {
    if (this.done) return;
    const { client, key } = this.o;
    void this.watcher?.cancel().catch(() => undefined); // a check that raced another: one watch only
    const w = ownWatch(client).key(key).startRevision(String(Number(revision) + 1)).watcher();
    this.watcher = w;
    w.on('put', (kv: IKeyValue) => this.changed(kv));
    w.on('delete', (kv: IKeyValue) => this.lost(undefined, kv.mod_revision));
    w.on('connected', () => void this.check(false));
    w.on('error', () => {
      // Canceled by etcd: etcd3 has dropped this watcher and will not resubscribe it.
      if (this.watcher === w) this.watcher = undefined;
      clearTimeout(this.timer);
      void this.check(true);
    });
    // The stream broke (etcd restarted, out of reach): etcd3 would resubscribe on its own backoff,
    // up to 30 s once etcd has been away a while, all that time blind to a key taken or deleted.
    // Dropped instead, and the key read and watched again after the registration's backoff.
    w.on('disconnected', () => {
      if (this.watcher !== w || this.done) return;
      this.watcher = undefined;
      void w.cancel().catch(() => undefined); // not connected: etcd3 only forgets it
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.check(true), this.o.backoff.next());
    });
    // From the watch's opening, not its 'connected': one opened on a stalled member never connects.
    this.checkLater();
  }

  close(): void {
    this.done = true;
    clearTimeout(this.timer);
    const w = this.watcher;
    this.watcher = undefined;
    void w?.cancel().catch(() => undefined);
  }

  private changed(kv: IKeyValue): void {
    if (kv.lease !== this.o.leaseId) this.lost(kv.lease, kv.mod_revision);
  }

  /** Reads the key as it is now; `rewatch` after etcd canceled the watch. */
  private async check(rewatch: boolean): Promise<void> {
    let res;
    try {
      res = await this.o.client.kv.range({ key: Buffer.from(this.o.key), keys_only: true }, this.o.bound());
    } catch (err) {
      return this.unseen(rewatch, failureReason(err, this.o.client));
    }
    if (this.done) return;
    clearTimeout(this.timer);
    this.o.backoff.reset();
    const kv = res.kvs[0];
    if (!kv) return this.lost(undefined, res.header.revision);
    this.changed(kv);
    if (this.done) return;
    // Also when the watch broke or was canceled while this read was out: its retry was cleared above.
    if (rewatch || !this.watcher) this.start(res.header.revision);
    else this.checkLater();
    if (this.blindWhy !== undefined) {
      this.blindWhy = undefined;
      this.o.events.sighted();
    }
  }

  /** Reads the key again in `checkEveryMs` (see the class); unref'd: it never holds a process by itself. */
  private checkLater(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.check(false), this.o.checkEveryMs);
    this.timer.unref?.();
  }

  /** The read failed: blind until a later one, tried after a jittered delay, succeeds. */
  private unseen(rewatch: boolean, why: string): void {
    if (this.done) return;
    // Said again when the reason changes (etcd3's breaker open, then the real refusal).
    if (this.blindWhy !== why) {
      this.blindWhy = why;
      this.o.events.blind(why);
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.check(rewatch || !this.watcher), this.o.backoff.next());
  }

  private lost(holder: string | undefined, revision: string): void {
    if (this.done) return;
    this.close();
    this.o.events.lost(holder, revision);
  }
}
