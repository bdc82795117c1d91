import { invalidArgument, silentLogger, systemClock, type Clock, type Logger } from '@skein/core';
import { discoveryEntry, entryKey } from './discovery-entry.js';
import { DiscoveryFeed } from './discovery-feed.js';
import type { Discovery, DiscoveryEntry, DiscoveryEvent, DiscoveryStatus, EntrySpec, Registrar, Registration, Watch } from './discovery.js';

export interface StaticDiscoveryOptions {
  logger?: Logger | undefined;
  clock?: Clock | undefined;
}

/**
 * The smallest backend: a list in memory. Give it the servers up front, change the list with
 * `set` (say, after reading a file again), or let in-process servers `register`. It is also the
 * example for writing a backend: keep the source, hand each watch a `DiscoveryFeed`, and tell
 * the feeds what you read.
 */
export class StaticDiscovery implements Discovery, Registrar {
  private list = new Map<string, DiscoveryEntry>();
  private readonly feeds = new Set<DiscoveryFeed>();
  private readonly logger: Logger;
  private readonly clock: Clock;

  constructor(entries: readonly EntrySpec[] = [], opts: StaticDiscoveryOptions = {}) {
    this.logger = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    this.list = checkedList(entries);
  }

  watch(onChange: (event: DiscoveryEvent) => void): Watch {
    const feed = new DiscoveryFeed(onChange, {
      name: 'static',
      logger: this.logger,
      clock: this.clock,
      onClose: () => void this.feeds.delete(feed),
    });
    this.feeds.add(feed);
    feed.reset([...this.list.values()]);
    return feed;
  }

  /** Replaces the whole list. Every entry is checked first: on a bad one nothing changes. */
  set(entries: readonly EntrySpec[]): void {
    this.list = checkedList(entries);
    this.publish();
  }

  /** The list could not be read (a file is missing or bad): watches keep what they had and say why. */
  stale(reason: string): void {
    for (const f of this.feeds) f.stale(reason);
  }

  register(spec: EntrySpec): Promise<Registration> {
    let entry: DiscoveryEntry;
    try {
      entry = discoveryEntry(spec);
    } catch (err) {
      return Promise.reject(err);
    }
    this.list.set(entryKey(entry.type, entry.id), entry);
    this.publish();
    return Promise.resolve(new StaticRegistration(this, entry, this.clock));
  }

  /** @internal A registration withdraws its entry (unless another took its key since). */
  withdraw(entry: DiscoveryEntry): void {
    const key = entryKey(entry.type, entry.id);
    if (this.list.get(key) !== entry) return;
    this.list.delete(key);
    this.publish();
  }

  private publish(): void {
    const entries = [...this.list.values()];
    for (const f of this.feeds) f.reset(entries);
  }
}

class StaticRegistration implements Registration {
  private current: DiscoveryStatus;

  constructor(
    private readonly owner: StaticDiscovery,
    readonly entry: DiscoveryEntry,
    private readonly clock: Clock,
  ) {
    this.current = { state: 'live', since: clock.now() };
  }

  status(): DiscoveryStatus {
    return this.current;
  }

  close(): Promise<void> {
    if (this.current.state !== 'closed') {
      this.owner.withdraw(this.entry);
      this.current = { state: 'closed', since: this.clock.now() };
    }
    return Promise.resolve();
  }
}

function checkedList(entries: readonly EntrySpec[]): Map<string, DiscoveryEntry> {
  if (!Array.isArray(entries)) throw invalidArgument(`a server list must be an array, got ${JSON.stringify(entries)}`);
  const out = new Map<string, DiscoveryEntry>();
  for (const spec of entries) {
    const e = discoveryEntry(spec);
    const key = entryKey(e.type, e.id);
    if (out.has(key)) throw invalidArgument(`entry '${e.id}' of type '${e.type}' is listed twice`);
    out.set(key, e);
  }
  return out;
}
