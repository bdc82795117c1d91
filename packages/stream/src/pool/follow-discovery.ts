import { ErrorCode, MAX_TIMER_MS, RpcError, invalidArgument, silentLogger, type Logger } from '@skein/core';
import type { Discovery, DiscoveryEntry, DiscoveryEvent, Watch } from './discovery.js';
import type { FailoverPool } from './failover-pool.js';

export interface FollowDiscoveryOptions {
  /** The server type whose entries become the pool's servers; entries of other types are ignored. */
  type: string;
  logger?: Logger;
  /**
   * How long a leave that would take the pool's last server away waits for a join, in ms
   * (default 10 000, the registrations' default TTL; 0 applies it at once). A backend that
   * stalls past its TTL expires every entry at once and the servers write theirs again moments
   * later: the pool keeps its last server meanwhile instead of failing every call Unreachable.
   * A join (the same server back, or another) ends the wait at once.
   */
  lastLeaveGraceMs?: number;
}

/** The registrations' default TTL: long enough for a server that is alive to write its entry again. */
const DEFAULT_LAST_LEAVE_GRACE_MS = 10_000;

/**
 * Keeps a FailoverPool's servers equal to the entries of one type in a discovery backend, through
 * the pool's own `add` and `remove`: a server that leaves gets no new calls and its calls in flight
 * finish; nothing here waits for that, so membership changes never hold up calls. Start the pool
 * with no servers and let discovery own its membership. Returns the watch: its `status()` tells
 * whether the membership is current, `close()` stops following (the pool keeps its servers).
 * The one exception to following at once: a leave that would empty the pool waits
 * `lastLeaveGraceMs` for a join (why: `PoolFollower.hold`).
 */
export function followDiscovery(pool: FailoverPool, discovery: Discovery, opts: FollowDiscoveryOptions): Watch {
  const graceMs = opts.lastLeaveGraceMs ?? DEFAULT_LAST_LEAVE_GRACE_MS;
  if (!(graceMs >= 0 && graceMs <= MAX_TIMER_MS)) throw invalidArgument(`lastLeaveGraceMs must be between 0 and ${MAX_TIMER_MS} ms, got ${graceMs}`);
  const follower = new PoolFollower(pool, opts.type, opts.logger ?? silentLogger, graceMs);
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
  /** The pool's last server, left from discovery and kept for the grace (see `lastLeaveGraceMs`). */
  private held: { readonly address: string; readonly timer: ReturnType<typeof setTimeout> } | undefined;

  constructor(
    private readonly pool: FailoverPool,
    private readonly type: string,
    private readonly logger: Logger,
    private readonly graceMs: number,
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
    // After the add: the pool has the newcomer before a held server goes (or keeps it if it is back).
    this.release(e.address);
  }

  private leave(e: DiscoveryEntry): void {
    const n = this.users.get(e.address) ?? 0;
    if (n === 0) return;
    if (n > 1) return void this.users.set(e.address, n - 1);
    this.users.delete(e.address);
    if (this.graceMs > 0 && this.isLast(e.address)) return this.hold(e.address);
    this.remove(e.address);
  }

  /** Whether the pool would be empty without this server. */
  private isLast(address: string): boolean {
    return !this.pool.servers().some((s) => s.address !== address);
  }

  /**
   * Keeps the pool's last server a while after it left discovery: a backend that stalled past
   * its TTL drops every entry at once although the servers are up, and an empty pool fails every
   * call until they have written their entries again. A server that is really gone still leaves
   * when the grace is over; meanwhile the pool's own failure handling (connect errors, circuit,
   * health) treats it as it would any dead server, and calls fail as they would have anyway.
   */
  private hold(address: string): void {
    const timer = setTimeout(() => {
      this.held = undefined;
      // A watch closed meanwhile stopped following: the pool keeps its servers, as `close()` says.
      if (this.watch?.status().state === 'closed') return;
      this.remove(address);
    }, this.graceMs);
    // A held leave alone must not keep a process alive (Node, Bun and Deno timers have unref).
    (timer as { unref?: () => void }).unref?.();
    this.held = { address, timer };
    this.logger.info({ address, graceMs: this.graceMs }, 'the last server left discovery: keeping it until another joins or the grace is over');
  }

  /** A join ends the wait: the held server is back (kept), or another is in the pool (the held one goes now). */
  private release(joined: string): void {
    const held = this.held;
    if (!held) return;
    clearTimeout(held.timer);
    this.held = undefined;
    if (held.address !== joined) this.remove(held.address);
  }

  private remove(address: string): void {
    this.pool.remove(address).catch((err: unknown) => this.logger.warn({ err, address }, 'removing a server that left discovery failed'));
  }

  private failed(err: unknown, e: DiscoveryEntry): void {
    if (err instanceof RpcError && err.code === ErrorCode.Closed) {
      // Nothing left to feed: stop watching rather than log every later change.
      this.poolClosed = true;
      if (this.held) clearTimeout(this.held.timer);
      if (this.watch) void this.watch.close();
      return;
    }
    this.logger.error({ err, type: e.type, id: e.id, address: e.address }, 'adding a discovered server to the pool failed');
  }
}
