import { silentLogger, systemClock, type Clock, type Logger } from '@skein/core';
import { entryKey, sameEntry } from './discovery-entry.js';
import { boundedReady } from './bounded-ready.js';
import type { DiscoveryEntry, DiscoveryEvent, DiscoveryStatus, ReadyOptions, Watch } from './discovery.js';

const INITIAL = 'waiting for the first read';

export interface DiscoveryFeedOptions {
  /** Names the backend in log lines ('etcd', 'static'...). */
  name?: string | undefined;
  logger?: Logger | undefined;
  clock?: Clock | undefined;
  /** Releases what the backend holds for this watch (a stream, a timer); called once, by `close()`. */
  onClose?: (() => Promise<void> | void) | undefined;
}

/**
 * What a backend's watch keeps: the entries known now, the status, and the events a change
 * makes. A backend only says what it read (`reset` for a full view, `put` and `delete` for one
 * change, `stale` when it lost its source); the feed turns that into join / leave / replace
 * events, each once, and a write of an unchanged value into none. So a backend that resumes
 * after an outage may hand over a full view again, and the consumer sees only the difference.
 */
export class DiscoveryFeed implements Watch {
  private readonly known = new Map<string, DiscoveryEntry>();
  private current: DiscoveryStatus;
  private readonly name: string;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly onClose: DiscoveryFeedOptions['onClose'];
  private settleReady!: () => void;
  private readonly first = new Promise<void>((resolve) => (this.settleReady = resolve));
  private closing: Promise<void> | undefined;

  constructor(
    private readonly onChange: (event: DiscoveryEvent) => void,
    opts: DiscoveryFeedOptions = {},
  ) {
    this.name = opts.name ?? 'discovery';
    this.logger = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    this.onClose = opts.onClose;
    this.current = { state: 'stale', since: this.clock.now(), reason: INITIAL };
  }

  status(): DiscoveryStatus {
    return this.current;
  }

  entries(): DiscoveryEntry[] {
    return [...this.known.values()];
  }

  get(type: string, id: string): DiscoveryEntry | undefined {
    return this.known.get(entryKey(type, id));
  }

  ready(opts?: ReadyOptions): Promise<void> {
    return boundedReady(this.first, () => this.current, opts);
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /**
   * The whole view as read now: sends what differs from the known one and marks the feed live.
   * Joins and replaces go first and leaves last, so a server that moved from one id to another
   * on the same address never drops out of a pool in between.
   */
  reset(entries: readonly DiscoveryEntry[]): void {
    if (this.closed) return;
    const next = new Map<string, DiscoveryEntry>();
    for (const e of entries) next.set(entryKey(e.type, e.id), e);
    for (const e of next.values()) this.put(e);
    for (const e of [...this.known.values()]) if (!next.has(entryKey(e.type, e.id))) this.delete(e.type, e.id);
    this.live();
  }

  /** One entry written: a join, a replace, or nothing if it says what was known. */
  put(entry: DiscoveryEntry): void {
    if (this.closed) return;
    const key = entryKey(entry.type, entry.id);
    const previous = this.known.get(key);
    if (previous && sameEntry(previous, entry)) return;
    this.known.set(key, entry);
    this.emit(previous ? { kind: 'replace', entry, previous } : { kind: 'join', entry });
  }

  /** One entry gone: a leave, or nothing if it was not known. */
  delete(type: string, id: string): void {
    if (this.closed) return;
    const key = entryKey(type, id);
    const entry = this.known.get(key);
    if (!entry) return;
    this.known.delete(key);
    this.emit({ kind: 'leave', entry });
  }

  /** The backend reads its source again: the known view is current. */
  live(): void {
    if (this.closed || this.current.state === 'live') return;
    const was = this.current;
    this.current = { state: 'live', since: this.clock.now() };
    this.settleReady();
    const staleMs = this.current.since - was.since;
    if (was.state === 'stale' && was.reason !== INITIAL) {
      this.logger.info({ backend: this.name, staleMs, entries: this.known.size }, `${this.name} discovery is live again`);
    }
  }

  /** The backend lost its source: the known view is kept, and the status and a log line say so. */
  stale(reason: string): void {
    if (this.closed) return;
    const was = this.current;
    // Once stale, the first failure's time and reason stay: "stale since" is since the view
    // stopped being current, and one line per outage is enough.
    if (was.state === 'stale' && was.reason !== INITIAL) return;
    this.current = { state: 'stale', since: was.state === 'stale' ? was.since : this.clock.now(), reason };
    this.logger.warn(
      { backend: this.name, reason, entries: this.known.size },
      `${this.name} discovery is stale: keeping the last known ${this.known.size} server(s)`,
    );
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.current = { state: 'closed', since: this.clock.now() };
    this.settleReady();
    await this.onClose?.();
  }

  private emit(event: DiscoveryEvent): void {
    try {
      this.onChange(event);
    } catch (err) {
      this.logger.error({ err, backend: this.name, event: event.kind, id: event.entry.id }, 'discovery onChange threw');
    }
  }
}

