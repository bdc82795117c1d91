import { silentLogger, type Logger } from '@skein/core';
import { DiscoveryFeed, discoveryEntry, type Discovery, type DiscoveryEvent, type EntrySpec, type Watch } from '@skein/stream';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * A discovery backend in one file: the servers listed in a JSON file (an array of entries),
 * read again whenever the file changes. A file that is missing or bad keeps the last good list
 * and marks the watches stale with the reason; the next good read makes them live again.
 */
export class FileDiscovery implements Discovery {
  private readonly feeds = new Set<DiscoveryFeed>();
  private watcher: FSWatcher | undefined;

  constructor(
    private readonly file: string,
    private readonly logger: Logger = silentLogger,
  ) {}

  watch(onChange: (event: DiscoveryEvent) => void): Watch {
    const feed: DiscoveryFeed = new DiscoveryFeed(onChange, { name: 'file', logger: this.logger, onClose: () => this.forget(feed) });
    this.feeds.add(feed);
    // The directory, not the file: editors and deploy tools replace files by renaming over them.
    this.watcher ??= watch(path.dirname(this.file), (_, name) => name === path.basename(this.file) && void this.reload());
    void this.reload();
    return feed;
  }

  /** Reads the file now and tells every watch what it holds; the feeds send only what changed. */
  async reload(): Promise<void> {
    try {
      const specs = JSON.parse(await readFile(this.file, 'utf8')) as EntrySpec[];
      const entries = specs.map((spec) => discoveryEntry(spec)); // a bad entry throws: all or nothing
      for (const f of this.feeds) f.reset(entries);
    } catch (err) {
      for (const f of this.feeds) f.stale(`${this.file}: ${(err as Error).message}`);
    }
  }

  private forget(feed: DiscoveryFeed): void {
    this.feeds.delete(feed);
    if (this.feeds.size > 0) return;
    this.watcher?.close();
    this.watcher = undefined;
  }
}
