import { ErrorCode, RpcError, guardedLogger, silentLogger, type Logger } from '@skein/core';
import type { Discovery, DiscoveryEntry, DiscoveryEvent, Watch } from './discovery.js';
import type { FailoverPool } from './failover-pool.js';
import { LastLeaveHold, lastLeaveGraceMs } from './last-leave-grace.js';
// Its lines name a server as the pool's do (no token); made only for a line, which comes with a leave or a failure.
import { shownServer } from './shown-server.js';

export interface FollowDiscoveryOptions {
  /** The server type whose entries become the pool's servers; entries of other types are ignored. */
  type: string;
  logger?: Logger | undefined;
  /**
   * How long a leave that would take the pool's last server away waits for a join, in ms
   * (default 10 000, the registrations' default TTL; 0 applies it at once). A backend that
   * stalls past its TTL expires every entry at once and the servers write theirs again moments
   * later: the pool keeps its last server meanwhile instead of failing every call Unreachable.
   * A join (the same server back, or another) ends the wait at once. A held server that still
   * answers when the grace is over (a connection up: cut off from the backend, not dead) stays
   * until it stops answering (its connections lost or closed, as a server that leaves gracefully
   * closes them), a server joins, or the pool has another server (one added by hand too: checked
   * at each change of its servers: their states, one added or removed). Nothing is removed from
   * a closed pool, and the follower stops at its first event after the close.
   */
  lastLeaveGraceMs?: number | undefined;
}

/**
 * Keeps a FailoverPool's servers equal to the entries of one type in a discovery backend, through
 * the pool's own `add` and `remove`: a server that leaves gets no new calls and its calls in flight
 * finish; nothing here waits for that, so membership changes never hold up calls. Start the pool
 * with no servers and let discovery own its membership. Returns the watch: its `status()` tells
 * whether the membership is current, `close()` stops following (the pool keeps its servers).
 * The one exception to following at once: a leave that would empty the pool waits
 * `lastLeaveGraceMs` for a join (why: `LastLeaveHold`).
 */
export function followDiscovery(pool: FailoverPool, discovery: Discovery, opts: FollowDiscoveryOptions): Watch {
  const graceMs = lastLeaveGraceMs(opts.lastLeaveGraceMs);
  const follower = new PoolFollower(pool, opts.type, guardedLogger(opts.logger ?? silentLogger), graceMs);
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
  /** The pool's last server's address, left from discovery and kept for the grace (see `lastLeaveGraceMs`). */
  private readonly held: LastLeaveHold<string>;

  constructor(
    private readonly pool: FailoverPool,
    private readonly type: string,
    private readonly logger: Logger,
    private readonly graceMs: number,
  ) {
    this.held = new LastLeaveHold({
      graceMs,
      // A watch closed meanwhile stopped following: the pool keeps its servers, as `close()` says;
      // a pool closed meanwhile is followed no more: nothing is removed from it.
      following: () => this.watch?.status().state !== 'closed' && !pool.closed,
      // Another server in the pool (joined, or added by hand): the pool cannot empty, the held one goes.
      last: (address) => this.isLast(address),
      expired: (address) => this.remove(address),
      // Discovery cannot tell a server cut off from it from a dead one; a live connection can.
      liveness: { answers: (address) => pool.answers(address), watch: (changed) => pool.watchStates(changed) },
      outlasted: (address) => this.logger.warn({ address: shownServer(address) }, 'the grace is over but the last server still answers: keeping it until it stops answering, another joins, or the pool has another'),
    });
  }

  attach(watch: Watch): void {
    this.watch = watch;
    if (this.poolClosed) void watch.close();
  }

  apply(event: DiscoveryEvent): void {
    if (event.entry.type !== this.type || this.poolClosed) return;
    // Closed meanwhile: followed no more (nothing is removed from it), as a join refused Closed finds.
    if (this.pool.closed) return this.stopFollowing();
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
    // After the add: the pool has the newcomer before a held server goes (or keeps it if it is back).
    this.release(e.address);
  }

  private leave(e: DiscoveryEntry): void {
    const n = this.users.get(e.address) ?? 0;
    if (n === 0) return;
    if (n > 1) return void this.users.set(e.address, n - 1);
    this.users.delete(e.address);
    if (this.held.enabled && this.isLast(e.address)) return this.hold(e.address);
    this.remove(e.address);
  }

  /**
   * Whether the pool would be empty without this server: its servers counted (a server the
   * application removed by hand is not there to count), and read only when it has one at most.
   * O(1) per leave in any order: a list read per leave made every entry leaving at once (a lease
   * expiry storm, a full replacement) O(n²), and so did a search through the addresses
   * discovery names, past each one removed by hand.
   */
  private isLast(address: string): boolean {
    if (this.pool.size > 1) return false;
    return !this.pool.servers().some((s) => s.address !== address);
  }

  /** Keeps the pool's last server for the grace (why: `LastLeaveHold`). */
  private hold(address: string): void {
    this.held.hold(address);
    this.logger.info({ address: shownServer(address), graceMs: this.graceMs }, 'the last server left discovery: keeping it until another joins or the grace is over');
  }

  /** A join ends the wait: the held server is back (kept), or another is in the pool (the held one goes now). */
  private release(joined: string): void {
    const held = this.held.release();
    if (held !== undefined && held !== joined) this.remove(held);
  }

  private remove(address: string): void {
    this.pool.remove(address).catch((err: unknown) => this.logger.warn({ err, address: shownServer(address) }, 'removing a server that left discovery failed'));
  }

  private failed(err: unknown, e: DiscoveryEntry): void {
    if (err instanceof RpcError && err.code === ErrorCode.Closed) return this.stopFollowing();
    this.logger.error({ err, type: e.type, id: e.id, address: shownServer(e.address) }, 'adding a discovered server to the pool failed');
  }

  /** The pool is closed: nothing left to feed, stop watching rather than log every later change. */
  private stopFollowing(): void {
    this.poolClosed = true;
    this.held.release();
    if (this.watch) void this.watch.close();
  }
}
