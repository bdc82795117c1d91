import type { Etcd3 } from 'etcd3';
import { boundedRead, prefixEnd } from './range-read.js';

/**
 * How often a live watch is checked by default (`checkEveryMs` of EtcdDiscovery, and of EtcdRegistrar
 * for a registration's own key: see KeyGuard): one read every 3 s per watch, answered with one key at most.
 */
export const CHECK_EVERY_MS = 3000;

/** What a watch has applied: the revision, and how many keys it holds under the prefix at it. */
export interface WatchedView {
  revision: number;
  keys: number;
}

export interface WatchCheckOptions {
  client: Etcd3;
  /** The time between checks, in ms (EtcdDiscovery's `checkEveryMs`, checked there). */
  checkEveryMs: number;
  /** The prefix watched, ending in '/'. */
  range: string;
  view: () => WatchedView;
  /** The watch is behind etcd: it missed changes, or delivers none (`why`). Said once, then the check stops. */
  behind: (why: string) => void;
  /** A check could not be made within its bound (etcd out of reach). Said once, then the check stops. */
  failed: (err: unknown) => void;
}

/**
 * Checks that a live watch is not silently behind. A watch's stream takes no deadline (one would end
 * it), so a watch opened on a stalled member (SIGSTOP, a frozen host: its kernel still accepts,
 * nothing answers) stayed open, `live`, and delivered nothing, while the other members took every
 * change (12 to 27 s seen, until the member answered or its connection broke). So every few seconds
 * one bounded read, through any member that answers, asks etcd for the newest key under the prefix
 * and their count (keys only, one key sent back); a watch that has applied every change agrees on
 * both (a delete shows in the count). One that disagrees twice in a row, having applied nothing in
 * between, is behind: a change made just before a check reaches a healthy watch within milliseconds.
 */
export class WatchCheck {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  /** The revision applied when the last check found the watch behind. */
  private suspect: number | undefined;

  constructor(private readonly o: WatchCheckOptions) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    // One check at a time, the next after this one settles; unref'd: it never holds a process by itself.
    this.timer = setTimeout(() => void this.check(), this.o.checkEveryMs);
    this.timer.unref?.();
  }

  private async check(): Promise<void> {
    const { client, range } = this.o;
    let res;
    try {
      // Bounded as the view's reads are (10 s in all, each attempt on one member a quarter of it).
      const options = boundedRead(client)();
      res = await client.kv.range({ key: Buffer.from(range), range_end: prefixEnd(Buffer.from(range)), keys_only: true, limit: 1, sort_order: 'Descend', sort_target: 'Mod' }, options);
    } catch (err) {
      if (!this.stopped) this.stop(), this.o.failed(err);
      return;
    }
    if (this.stopped) return;
    const view = this.o.view();
    const newest = Number(res.kvs[0]?.mod_revision ?? 0);
    const count = Number(res.count);
    if (newest <= view.revision && count === view.keys) {
      this.suspect = undefined;
    } else if (this.suspect === view.revision) {
      this.stop();
      return this.o.behind(`etcd has changes under ${range} the watch has not delivered (at revision ${res.header.revision}: ${count} keys, the newest written at ${newest}; the watch: ${view.keys} keys at ${view.revision})`);
    } else {
      this.suspect = view.revision;
    }
    this.schedule();
  }
}
