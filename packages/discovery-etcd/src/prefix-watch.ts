import type { Logger } from '@skein/core';
import { Backoff, type BackoffOptions, type DiscoveryEntry, type DiscoveryFeed } from '@skein/stream';
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import { decodeEntry, parseKey, rangeOf } from './etcd-entry.js';
import { reason } from './reason.js';

export interface PrefixWatchOptions {
  client: Etcd3;
  prefix: string;
  feed: DiscoveryFeed;
  logger: Logger;
  retry?: Partial<BackoffOptions>;
}

/**
 * Follows every entry under a prefix. A range read gives the whole view at revision R; a watch
 * from R + 1 gives every change after it, in order. When the watch breaks (etcd restarted, the
 * member went away), the view is kept and marked stale, and a new watch resumes from the revision
 * after the last one applied, so no change is lost and none is applied twice. Only when etcd no
 * longer has that revision (compacted) is the view read again whole, and the feed sends the
 * difference.
 *
 * The resume is ours, not etcd3's: its watcher resumes from the revision in the last response
 * header, which can be past events not yet delivered, and waits up to its own 30 s backoff.
 */
export class PrefixWatch {
  private readonly range: string;
  /** Every change up to this revision has been applied to the feed. */
  private revision = 0;
  private watcher: Watcher | undefined;
  /** Bumped whenever a read or a watch is abandoned, so that its late callbacks do nothing. */
  private generation = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private readonly backoff: Backoff;

  constructor(private readonly opts: PrefixWatchOptions) {
    this.range = rangeOf(opts.prefix);
    this.backoff = new Backoff(opts.retry);
  }

  start(): void {
    void this.resync();
  }

  close(): void {
    this.closed = true;
    this.generation++;
    clearTimeout(this.timer);
    this.dropWatcher();
  }

  /** Reads the whole view, then watches from the revision after it. */
  private async resync(): Promise<void> {
    const gen = ++this.generation;
    let res;
    try {
      res = await this.opts.client.getAll().prefix(this.range).exec();
    } catch (err) {
      if (gen === this.generation) this.retry(`reading ${this.range} failed: ${reason(err)}`, 'resync');
      return;
    }
    if (gen !== this.generation) return;
    this.revision = Number(res.header.revision);
    this.opts.feed.reset(this.decodeAll(res.kvs));
    this.watchFrom(this.revision + 1);
  }

  private watchFrom(start: number): void {
    const gen = ++this.generation;
    // `watcher()`, not `create()`: create() settles only once connected, and a watch that cannot
    // connect must be seen failing from its first attempt, to say that the view is stale.
    const w = this.opts.client.watch().prefix(this.range).startRevision(String(start)).watcher();
    this.watcher = w;
    w.on('connected', () => gen === this.generation && this.connected());
    w.on('data', (res: IWatchResponse) => gen === this.generation && this.apply(res));
    w.on('disconnected', (err: Error) => gen === this.generation && this.retry(`watch of ${this.range} broke: ${reason(err)}`, 'resume'));
    // etcd cancels a watch whose start revision is compacted, or one it may not read.
    w.on('error', (err: Error) => gen === this.generation && this.retry(`watch of ${this.range} was canceled: ${reason(err)}`, 'resync'));
  }

  private connected(): void {
    this.backoff.reset();
    this.opts.feed.live();
  }

  /** Applies one watch response. Revisions only go up: a change at or below `revision` was applied. */
  private apply(res: IWatchResponse): void {
    let last = this.revision;
    for (const ev of res.events) {
      const rev = Number(ev.kv.mod_revision);
      if (rev <= this.revision) continue;
      if (rev > last) last = rev;
      this.applyChange(ev.type, ev.kv);
    }
    // Moved once per response, not per event: one revision may change several keys (a
    // transaction), and etcd never splits a revision across responses.
    this.revision = last;
  }

  private applyChange(type: 'Put' | 'Delete', kv: IKeyValue): void {
    const key = kv.key.toString();
    const name = parseKey(this.opts.prefix, key);
    if (!name) return void this.opts.logger.warn({ key }, 'ignoring a key under the discovery prefix that is not <prefix>/<type>/<id>');
    if (type === 'Delete') return this.opts.feed.delete(name.type, name.id);
    const entry = this.decode(kv);
    // A value we cannot read says nothing about where the server is: it is no longer a member.
    if (entry) this.opts.feed.put(entry);
    else this.opts.feed.delete(name.type, name.id);
  }

  private decodeAll(kvs: readonly IKeyValue[]): DiscoveryEntry[] {
    const out: DiscoveryEntry[] = [];
    for (const kv of kvs) {
      const e = this.decode(kv);
      if (e) out.push(e);
    }
    return out;
  }

  private decode(kv: IKeyValue): DiscoveryEntry | undefined {
    const key = kv.key.toString();
    try {
      return decodeEntry(this.opts.prefix, key, kv.value.toString());
    } catch (err) {
      this.opts.logger.warn({ key, reason: reason(err) }, 'ignoring a bad discovery entry');
      return undefined;
    }
  }

  /** Keeps the view, marks it stale, and tries again after a jittered delay. */
  private retry(why: string, then: 'resume' | 'resync'): void {
    if (this.closed) return;
    this.opts.feed.stale(why);
    this.dropWatcher();
    const gen = ++this.generation;
    const again = then === 'resync' || this.revision === 0 ? () => void this.resync() : () => this.watchFrom(this.revision + 1);
    this.timer = setTimeout(() => gen === this.generation && again(), this.backoff.next());
  }

  private dropWatcher(): void {
    const w = this.watcher;
    this.watcher = undefined;
    if (!w) return;
    // Its callbacks are already ignored (generation); this stops etcd3 from resubscribing it.
    void w.cancel().catch(() => undefined);
  }
}
