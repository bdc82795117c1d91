import type { Logger } from '@skein/core';
import { Backoff, type BackoffOptions, type DiscoveryEntry, type DiscoveryFeed } from '@skein/stream';
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import { decodeEntry, keyText, parseKey, rangeOf } from './etcd-entry.js';
import { HistoryWitness, sameHistory } from './history-witness.js';
import { NoEntryLog } from './no-entry-log.js';
import { clientClosed, onClientClose } from './client-closed.js';
import { PrefixReader, boundedRead } from './range-read.js';
import { failureReason } from './failure-reason.js';
import { compacted, reason } from './reason.js';
import { StreamRoute } from './stream-route.js';
import { tooLarge } from './too-large-call.js';
import { readReason } from './unanswered-read.js';
import { WatchCheck } from './watch-check.js';

/**
 * How long a new watch may go unanswered: etcd answers its creation at once, so one unanswered
 * this long was sent to a silent member (stalled, cut off without a reset), where it would wait,
 * stale, until that member answered. It is opened again on another member (see StreamRoute).
 */
const OPEN_WAIT_MS = 5000;

export interface PrefixWatchOptions {
  client: Etcd3;
  prefix: string;
  feed: DiscoveryFeed;
  logger: Logger;
  backoff?: Partial<BackoffOptions>;
  /** The time between checks of the live watch (WatchCheck), checked already. */
  checkEveryMs: number;
}

/**
 * Follows every entry under a prefix. A read (`PrefixReader`) gives the whole view at revision R; a watch
 * from R + 1 gives every change after it, in order. When the watch breaks (etcd restarted, the
 * member went away), the view is kept and marked stale, and a new watch resumes from the revision
 * after the last one applied, so no change is lost and none is applied twice. Only when etcd no
 * longer has that revision (compacted), or has another history (see HistoryWitness), is the view
 * read again whole, and the feed sends the difference.
 *
 * The resume is ours, not etcd3's: its watcher resumes from the revision in the last response
 * header, which can be past events not yet delivered, and waits up to its own 30 s backoff.
 *
 * A live watch is checked every few seconds (WatchCheck): one on a member that went silent
 * (stalled, cut off without a reset) is stale once seen behind, and resumed on another member
 * (StreamRoute).
 */
export class PrefixWatch {
  private readonly range: string;
  /** Every change up to this revision has been applied to the feed. */
  private revision = 0;
  private watcher: Watcher | undefined;
  /** Checks the live watch (see WatchCheck); none while it is not live. */
  private check: WatchCheck | undefined;
  /** Set while the watch waits for etcd to answer its creation (see OPEN_WAIT_MS). */
  private openTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly route: StreamRoute;
  /** Bumped whenever a read or a watch is abandoned, so that its late callbacks do nothing. */
  private generation = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** The last watch broke on a response too large for the client: see PrefixReader's `presumeTooLarge`. */
  private brokeTooLarge = false;
  private readonly backoff: Backoff;
  private readonly reader: PrefixReader;
  /** The keys' versions as of `revision`: whether a resume finds the same history (see HistoryWitness). */
  private readonly witness = new HistoryWitness();
  /** Keys under the prefix that are no entry, each said once while it stays so. */
  private readonly noEntry: NoEntryLog;
  /** Stops listening for the client's close. */
  private unhook: () => void = () => undefined;

  constructor(private readonly opts: PrefixWatchOptions) {
    this.range = rangeOf(opts.prefix);
    this.backoff = new Backoff(opts.backoff);
    this.route = new StreamRoute(opts.client);
    this.noEntry = new NoEntryLog(opts.logger);
    this.reader = new PrefixReader(opts.client, this.range, (key) => opts.logger.warn({ key }, 'ignoring a discovery entry too large to read'));
  }

  start(): void {
    // A watch already open is not ended by the client's close (its stream goes on): told by the
    // close itself, it ends as one whose next call found the client closed (see retry).
    this.unhook = onClientClose(this.opts.client, () => this.clientClosedUnder());
    void this.resync();
  }

  close(): void {
    this.unhook();
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
      res = await this.reader.read(this.brokeTooLarge);
    } catch (err) {
      if (gen === this.generation) this.retry(err, `reading ${this.range} failed: ${readReason(err, this.opts.client)}`, 'resync');
      return;
    }
    if (gen !== this.generation) return;
    this.brokeTooLarge = false;
    this.revision = res.revision;
    this.witness.reset(res.kvs);
    this.opts.feed.reset(this.noEntry.wholeView(() => this.decodeAll(res.kvs)));
    this.watchFrom(this.revision + 1);
  }

  private watchFrom(start: number): void {
    const gen = ++this.generation;
    // `watcher()`, not `create()`: create() settles only once connected, and a watch that cannot
    // connect must be seen failing from its first attempt, to say that the view is stale.
    // A stream of its own each time: a watch etcd refused (canceled as it was created) would
    // leave the previous one unable to attach any other (see ownWatch), on a member other than
    // the one a watch was last found silent on (see StreamRoute).
    const w = this.route.watch().prefix(this.range).startRevision(String(start)).watcher();
    this.watcher = w;
    this.openTimer = setTimeout(() => gen === this.generation && this.silent(`the watch of ${this.range} was not answered within ${OPEN_WAIT_MS} ms`), OPEN_WAIT_MS);
    w.on('connected', () => {
      if (gen !== this.generation) return;
      clearTimeout(this.openTimer);
      void this.connected(gen);
    });
    w.on('data', (res: IWatchResponse) => gen === this.generation && this.apply(res));
    // A response too large for the client (changes missed during an outage, batched by etcd, or
    // one value past the limit) would break every resume the same way: read the view again in
    // small pieces instead, which leaves out, with a warn line, a value too large by itself.
    // (etcd3 counts this break as one failure of the host and resets the client's connections
    // once; the reads after it do not add to that: see PrefixReader.)
    w.on('disconnected', (err: Error) => {
      if (gen !== this.generation) return;
      this.route.broke();
      if (tooLarge(err)) this.brokeTooLarge = true;
      this.retry(err, `watch of ${this.range} broke: ${failureReason(err, this.opts.client)}`, this.brokeTooLarge ? 'resync' : 'resume');
    });
    // etcd cancels a watch whose start revision is compacted, or one it may not read.
    w.on('error', (err: Error) => gen === this.generation && this.retry(err, `watch of ${this.range} was canceled: ${failureReason(err, this.opts.client)}`, 'resync'));
  }

  /**
   * The watch is on; the view is live once etcd says it still has the revision the watch starts
   * after. Asked because a watch from a compacted revision is accepted ('connected') and canceled
   * only after: the view would be called current, then stale again, two lines for one outage.
   * Asked only now, with etcd reachable: failed calls during an outage would open etcd3's
   * circuit breaker and hold the client back for seconds after etcd is back. What is asked is
   * the key written last (and the leased key written last, when that one has no lease), at that
   * revision: in another history (etcd started again on an empty data dir, or restored, and
   * written to past that revision, even with the same writes replayed) it is not the version
   * applied, under the same lease, and the view is read again whole (see HistoryWitness).
   */
  private async connected(gen: number): Promise<void> {
    const witnesses = this.witness.expected();
    // With none (an empty prefix), the range's first key: what is asked is whether etcd has the revision.
    const keys = witnesses.length > 0 ? witnesses.map((w) => w.key) : [Buffer.from(this.range)];
    let reads;
    try {
      // Bounded as the view's reads are: a read sent to a stalled member waited for good, and the
      // watch with it, never live again.
      reads = await Promise.all(keys.map((key) => this.opts.client.kv.range({ key, revision: this.revision, limit: 1, keys_only: true }, boundedRead(this.opts.client)())));
    } catch (err) {
      if (gen === this.generation) this.retry(err, `resuming the watch of ${this.range} failed: ${readReason(err, this.opts.client)}`, compacted(err) || rewound(err) ? 'resync' : 'resume');
      return;
    }
    if (gen !== this.generation) return;
    const other = witnesses.find((w, i) => !sameHistory(w, reads[i]!.kvs[0]));
    if (other) {
      const why = `etcd has another history than the one followed (${other.key.toString()} at revision ${this.revision} is not as applied): reading ${this.range} again`;
      return this.retry(undefined, why, 'resync');
    }
    this.backoff.reset();
    this.opts.feed.live();
    this.checkWatch(gen);
  }

  /** Checks the live watch until it is dropped (see WatchCheck). */
  private checkWatch(gen: number): void {
    this.check?.stop();
    this.check = new WatchCheck({
      client: this.opts.client,
      checkEveryMs: this.opts.checkEveryMs,
      range: this.range,
      view: () => ({ revision: this.revision, keys: this.witness.size + this.reader.skipped }),
      behind: (why) => gen === this.generation && this.silent(why),
      failed: (err) => gen === this.generation && this.retry(err, `checking the watch of ${this.range} failed: ${readReason(err, this.opts.client)}`, 'resume'),
    });
    this.check.start();
  }

  /** The watch's member is silent: the watch is stale, and opened again on another member. */
  private silent(why: string): void {
    this.route.silent();
    this.retry(undefined, `${why}: opening it again on another member`, 'resume');
  }

  /** Applies one watch response. Revisions only go up: a change at or below `revision` was applied. */
  private apply(res: IWatchResponse): void {
    let last = this.revision;
    for (const ev of res.events) {
      const rev = Number(ev.kv.mod_revision);
      if (rev <= this.revision) continue;
      if (rev > last) last = rev;
      if (ev.type === 'Delete') this.witness.delete(ev.kv.key);
      else this.witness.put(ev.kv);
      this.applyChange(ev.type, ev.kv);
    }
    // Moved once per response, not per event: one revision may change several keys (a
    // transaction), and etcd never splits a revision across responses.
    this.revision = last;
  }

  private applyChange(type: 'Put' | 'Delete', kv: IKeyValue): void {
    // Any key, an entry's or not: one left out as too large and deleted or written again since is
    // no longer left out (counted so, it made WatchCheck take the watch for behind for good).
    this.reader.forget(kv.key);
    const key = keyText(kv.key);
    // Not UTF-8: no entry, and no change to the member whose id its loose text (U+FFFD) reads as.
    if (key === undefined) return this.noEntryChanged(type, kv.key, ...notUtf8(kv.key));
    const name = parseKey(this.opts.prefix, key);
    if (!name) return this.noEntryChanged(type, kv.key, { key }, 'ignoring a key under the discovery prefix that is not <prefix>/<type>/<id>');
    if (type === 'Delete') {
      this.noEntry.good(kv.key);
      return this.opts.feed.delete(name.type, name.id);
    }
    const entry = this.decode(kv, key);
    // A value we cannot read says nothing about where the server is: it is no longer a member.
    if (entry) this.opts.feed.put(entry);
    else this.opts.feed.delete(name.type, name.id);
  }

  /** A key that is no entry was written or deleted: said once while it is there, forgotten once deleted. */
  private noEntryChanged(type: 'Put' | 'Delete', key: Buffer, obj: Record<string, unknown>, msg: string): void {
    this.noEntry.bad(key, obj, msg);
    if (type === 'Delete') this.noEntry.good(key);
  }

  private decodeAll(kvs: readonly IKeyValue[]): DiscoveryEntry[] {
    const out: DiscoveryEntry[] = [];
    for (const kv of kvs) {
      const e = this.decode(kv, keyText(kv.key));
      if (e) out.push(e);
    }
    return out;
  }

  /** `key` is `kv.key` as text (keyText), decoded once by the caller. */
  private decode(kv: IKeyValue, key: string | undefined): DiscoveryEntry | undefined {
    if (key === undefined) return void this.noEntry.bad(kv.key, ...notUtf8(kv.key));
    let entry;
    try {
      entry = decodeEntry(this.opts.prefix, key, kv.value.toString());
    } catch (err) {
      return void this.noEntry.bad(kv.key, { key, reason: reason(err) }, 'ignoring a bad discovery entry');
    }
    this.noEntry.good(kv.key);
    return entry;
  }

  /**
   * Keeps the view, marks it stale, and tries again after a jittered delay; unless `err` says
   * the etcd3 client was closed: nothing read through it can succeed again, and the retry's
   * timer (referenced, so that a process awaiting `ready()` lives to see etcd back) would hold
   * the process for good. The watch then ends, as `close()` ends it.
   */
  private retry(err: unknown, why: string, then: 'resume' | 'resync'): void {
    if (this.closed) return;
    if (clientClosed(err)) return this.clientClosedUnder();
    this.opts.feed.stale(why);
    this.dropWatcher();
    const gen = ++this.generation;
    const again = then === 'resync' || this.revision === 0 ? () => void this.resync() : () => this.watchFrom(this.revision + 1);
    this.timer = setTimeout(() => gen === this.generation && again(), this.backoff.next());
  }

  /** The etcd3 client was closed: the watch ends, as `close()` ends it (the feed's close calls it). */
  private clientClosedUnder(): void {
    if (this.closed) return;
    this.opts.logger.info({ prefix: this.opts.prefix }, `the etcd3 client was closed: the watch of ${this.range} ends`);
    void this.opts.feed.close();
  }

  private dropWatcher(): void {
    clearTimeout(this.openTimer);
    this.check?.stop();
    this.check = undefined;
    const w = this.watcher;
    this.watcher = undefined;
    if (!w) return;
    // Its callbacks are already ignored (generation); this stops etcd3 from resubscribing it.
    void w.cancel().catch(() => undefined);
  }
}

/** etcd no longer has the revision asked for. */
/**
 * etcd's revision is behind the one asked for: its data was lost or restored from an older
 * snapshot. That is another history, which a resume would wait on for good (etcd holds a watch
 * from a future revision silently): the view is read again whole, as after a compaction.
 */
function rewound(err: unknown): boolean {
  return reason(err).includes('required revision is a future revision');
}

/** The log fields and line for a key that is not UTF-8: its loose text, and its bytes. */
function notUtf8(key: Buffer): [Record<string, unknown>, string] {
  return [{ key: key.toString(), hex: key.toString('hex') }, 'ignoring a key under the discovery prefix that is not UTF-8'];
}
