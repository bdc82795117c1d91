import { ErrorCode, RpcError, silentLogger, type Logger } from '@skein/core';
import type { Discovery, DiscoveryEntry, DiscoveryEvent, Watch } from './discovery.js';
import type { FailoverPool } from './failover-pool.js';

export interface FollowDiscoveryOptions {
  /** The server type whose entries become the pool's servers; entries of other types are ignored. */
  type: string;
  logger?: Logger;
}

/**
 * Keeps a FailoverPool's servers equal to the entries of one type in a discovery backend, through
 * the pool's own `add` and `remove`: a server that leaves gets no new calls and its calls in flight
 * finish; nothing here waits for that, so membership changes never hold up calls. Start the pool
 * with no servers and let discovery own its membership. Returns the watch: its `status()` tells
 * whether the membership is current, `close()` stops following (the pool keeps its servers).
 */
export function followDiscovery(pool: FailoverPool, discovery: Discovery, opts: FollowDiscoveryOptions): Watch {
  const follower = new PoolFollower(pool, opts.type, opts.logger ?? silentLogger);
  const watch = discovery.watch((event) => follower.apply(event));
  follower.attach(watch);
  return watch;
}

/** Turns one type's discovery events into pool membership. */
class PoolFollower {
  /** How many entries name each address: two ids may share one (a server re-registered under a new id). */
  private readonly users = new Map<string, number>();
  private watch: Watch | undefined;
  private poolClosed = false;

  constructor(
    private readonly pool: FailoverPool,
    private readonly type: string,
    private readonly logger: Logger,
  ) {}

  attach(watch: Watch): void {
    this.watch = watch;
    if (this.poolClosed) void watch.close();
  }

  apply(event: DiscoveryEvent): void {
    if (event.entry.type !== this.type || this.poolClosed) return;
    switch (event.kind) {
      case 'join':
        return this.join(event.entry);
      case 'leave':
        return this.leave(event.entry);
      case 'replace':
        // The new address first: the pool is never without the server in between.
        this.join(event.entry);
        return this.leave(event.previous);
    }
  }

  private join(e: DiscoveryEntry): void {
    try {
      this.pool.add({ address: e.address, weight: e.weight });
    } catch (err) {
      return this.failed(err, e);
    }
    this.users.set(e.address, (this.users.get(e.address) ?? 0) + 1);
  }

  private leave(e: DiscoveryEntry): void {
    const n = this.users.get(e.address) ?? 0;
    if (n === 0) return;
    if (n > 1) return void this.users.set(e.address, n - 1);
    this.users.delete(e.address);
    this.pool.remove(e.address).catch((err: unknown) => this.logger.warn({ err, address: e.address }, 'removing a server that left discovery failed'));
  }

  private failed(err: unknown, e: DiscoveryEntry): void {
    if (err instanceof RpcError && err.code === ErrorCode.Closed) {
      // Nothing left to feed: stop watching rather than log every later change.
      this.poolClosed = true;
      if (this.watch) void this.watch.close();
      return;
    }
    this.logger.error({ err, type: e.type, id: e.id, address: e.address }, 'adding a discovered server to the pool failed');
  }
}
