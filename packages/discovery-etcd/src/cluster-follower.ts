import { ErrorCode, RpcError, guardedLogger, silentLogger, type Logger } from '@skein/core';
import { LastLeaveHold, lastLeaveGraceMs, type Discovery, type DiscoveryEntry, type DiscoveryEvent, type Watch } from '@skein/stream';
import { memberLiveness, type MemberStates } from './member-liveness.js';
import { reason } from './reason.js';

/**
 * The membership part of `createCluster(...).$cluster` from @skein/api. Written out here (the
 * shapes match) so that this package does not depend on @skein/api.
 */
export interface ClusterMembership extends MemberStates {
  add(type: string, member: { readonly id: string; readonly address: string; readonly weight?: number }): void;
  /** Changes a member's weight in place; without it, a new weight is a remove and an add. */
  update?(type: string, member: { readonly id: string; readonly address: string; readonly weight?: number }): void;
  remove(type: string, id: string): Promise<void>;
  /**
   * A type's members, to tell whether one that leaves discovery is the type's last (members
   * configured or added by hand count). Without it, the members this follower added are counted.
   */
  members?(type: string): readonly { readonly id: string }[];
  /**
   * How many members the type has, as `members(type).length` without the list: with it, a leave
   * reads `members` only when the type has one member at most, so every member leaving at once
   * (a lease expiry storm) costs O(n), not a list per leave (O(n²)). Without it, `members` is
   * read per leave.
   */
  count?(type: string): number;
  /**
   * Whether the cluster is closed (`close()` or `destroy()` called; `rpc.$cluster` has it): the
   * follower stops at the first event after, and removes nothing from it, a held member neither.
   * Without it, a closed cluster is found at the first join after the close (`add` fails Closed).
   */
  readonly closed?: boolean;
}

export interface FollowClusterOptions {
  /** Only these server types; default every type the cluster has (others are logged once and skipped). */
  types?: readonly string[] | undefined;
  logger?: Logger | undefined;
  /**
   * How long a leave that would take a type's last member away waits for a join of that type,
   * in ms (default 10 000, the registrations' default TTL; 0 applies it at once), as in
   * `followDiscovery`. A backend that stalls past its TTL expires every entry at once and the
   * servers write theirs again moments later: the type keeps its last member meanwhile instead
   * of failing every call. A join of the type (the same member back, or another) ends the wait.
   * A held member that still answers when the grace is over (a connection up: cut off from etcd,
   * not from its clients) stays until it stops answering (its connections lost or closed, as a
   * server that leaves gracefully closes them), one of its type joins, or its type has another
   * member (`ClusterMembership.answers`). Another member is any but the held one, counted as a
   * leave counts them (configured, added by hand, joined; a cluster without `members`: those
   * this follower added), checked at each change of the type's servers (their states, one added
   * or removed: `ClusterMembership.watchStates`).
   */
  lastLeaveGraceMs?: number | undefined;
}

/**
 * Keeps a cluster's members equal to a discovery backend's entries, type by type, through the
 * cluster's `add` and `remove`. A member that leaves gets no new calls and its calls in flight
 * finish; nothing here waits for that. Returns the watch (status, close; the cluster keeps its
 * members); a closed cluster stops it too, at the first event after the close (nothing is removed
 * from it; a cluster without `closed`: at the first server to join after the close). The one
 * exception to following at once: a leave that would leave a type without members waits
 * `lastLeaveGraceMs` for a join of that type (why: `LastLeaveHold` of @skein/stream).
 */
export function followClusterDiscovery(cluster: ClusterMembership, discovery: Discovery, opts: FollowClusterOptions = {}): Watch {
  const graceMs = lastLeaveGraceMs(opts.lastLeaveGraceMs);
  const follower = new ClusterFollower(cluster, opts.types, guardedLogger(opts.logger ?? silentLogger), graceMs);
  const watch = discovery.watch((event) => follower.apply(event));
  follower.attach(watch);
  return watch;
}

class ClusterFollower {
  private readonly types: ReadonlySet<string> | undefined;
  /** Entries the cluster refused (a type it does not have, an id it has already), each logged once while listed. */
  private readonly refused = new Set<string>();
  /** Per type, the ids this follower added and has not removed: the members discovery owns. */
  private readonly added = new Map<string, Set<string>>();
  /** Per type, its last member, left from discovery and kept for the grace (see `lastLeaveGraceMs`). */
  private readonly holds = new Map<string, LastLeaveHold<DiscoveryEntry>>();
  private watch: Watch | undefined;
  /** The cluster was found closed: nothing more is followed. */
  private stopped = false;

  constructor(
    private readonly cluster: ClusterMembership,
    types: readonly string[] | undefined,
    private readonly logger: Logger,
    private readonly graceMs: number,
  ) {
    this.types = types && new Set(types);
  }

  attach(watch: Watch): void {
    this.watch = watch;
    // The cluster was found closed while the watch was being made (a backend that tells at once).
    if (this.stopped) void watch.close();
  }

  apply(event: DiscoveryEvent): void {
    const { entry } = event;
    if (this.stopped || (this.types && !this.types.has(entry.type))) return;
    if (this.cluster.closed === true) return this.stop();
    switch (event.kind) {
      case 'join':
        return this.join(entry);
      case 'leave':
        return this.leave(entry);
      case 'replace':
        return this.replace(event.previous, entry);
    }
  }

  private replace(previous: DiscoveryEntry, entry: DiscoveryEntry): void {
    // Refused when it joined (its id configured or added by hand, or its type missing): the
    // member of that id, if any, is not this entry's to reweigh or move. The new entry may join.
    if (!this.owns(previous)) return this.join(entry);
    // A cluster member has no meta; a change of meta alone changes nothing there.
    if (entry.address === previous.address && entry.weight === previous.weight) return;
    // A new weight alone: changed in place, so the member keeps its connections and health.
    if (entry.address === previous.address && this.cluster.update) return this.reweigh(entry);
    // A move (or a cluster without update): the member leaves (synchronously, its calls in
    // flight finish) and comes back with its new address in the same turn, so no call sees a gap.
    this.remove(previous);
    this.join(entry);
  }

  private join(e: DiscoveryEntry): void {
    const hold = this.holds.get(e.type);
    // The held member itself is back: still a member, so it is kept (moved or reweighed if its entry changed).
    if (hold?.value?.id === e.id) return this.replace(hold.release()!, e);
    try {
      this.cluster.add(e.type, { id: e.id, address: e.address, weight: e.weight });
    } catch (err) {
      if (err instanceof RpcError && err.code === ErrorCode.Closed) return this.stop();
      const key = `${e.type}/${e.id}`;
      if (this.refused.has(key)) return;
      this.refused.add(key);
      this.logger.warn({ type: e.type, id: e.id, reason: reason(err) }, 'the cluster refused a discovered server');
      return;
    }
    this.ids(e.type).add(e.id);
    // After the add: the type has the newcomer before the held member goes.
    const held = hold?.release();
    if (held) this.remove(held);
  }

  /**
   * The cluster is closed: nothing left to feed. The watch is closed rather than every later
   * join refused with a line each, as a FailoverPool's follower stops (`followDiscovery`).
   */
  private stop(): void {
    this.stopped = true;
    for (const hold of this.holds.values()) hold.release();
    if (this.watch) void this.watch.close();
  }

  private reweigh(e: DiscoveryEntry): void {
    try {
      this.cluster.update!(e.type, { id: e.id, address: e.address, weight: e.weight });
    } catch {
      // Not a member (the cluster refused it when it joined): it may be one now.
      this.join(e);
    }
  }

  private leave(e: DiscoveryEntry): void {
    if (this.graceMs > 0 && this.isLast(e)) return this.hold(e);
    this.remove(e);
  }

  /**
   * Whether `e` is a member this follower added and the type would have none without it. The
   * cluster's count first (`count`): a type of two members or more has another, and its list
   * (a copy per read) is read only when it has one at most.
   */
  private isLast(e: DiscoveryEntry): boolean {
    if (!this.owns(e)) return false;
    const { cluster } = this;
    if (cluster.count && cluster.count(e.type) > 1) return false;
    if (cluster.members) return cluster.members(e.type).every((m) => m.id === e.id);
    // The members this follower added, `e` among them (`owns`): it is the last if it is the only one.
    return this.ids(e.type).size === 1;
  }

  /**
   * Whether the held `e` is still its type's last, asked from the grace's timer and state
   * changes: a cluster of the application's making whose `count`/`members` throws must not end
   * the process from a timer; the member then goes, as one whose liveness cannot be read does.
   */
  private stillLast(e: DiscoveryEntry): boolean {
    try {
      return this.isLast(e);
    } catch (err) {
      this.logger.warn({ type: e.type, id: e.id, reason: reason(err) }, 'asking the cluster whether a held member is still the last failed: it goes');
      return false;
    }
  }

  /** Keeps the type's last member for the grace (why: `LastLeaveHold` of @skein/stream). */
  private hold(e: DiscoveryEntry): void {
    let hold = this.holds.get(e.type);
    if (!hold) {
      hold = new LastLeaveHold({
        graceMs: this.graceMs,
        // A watch closed meanwhile stopped following: the cluster keeps its members, as `close()` says;
        // a cluster closed meanwhile is followed no more: nothing is removed from it.
        following: () => this.watch?.status().state !== 'closed' && this.cluster.closed !== true,
        // Another member of the type (joined, configured or added by hand): it cannot empty, the held one goes.
        last: (held) => this.stillLast(held),
        expired: (held) => this.remove(held),
        // Discovery cannot tell a member cut off from it from a dead one; a live connection can.
        liveness: memberLiveness(this.cluster, e.type, this.logger),
        outlasted: (held) =>
          this.logger.warn(
            { type: held.type, id: held.id, address: held.address },
            'the grace is over but the last member of a type still answers: keeping it until it stops answering, one of its type joins, or its type has another',
          ),
      });
      this.holds.set(e.type, hold);
    }
    hold.hold(e);
    this.logger.info(
      { type: e.type, id: e.id, address: e.address, graceMs: this.graceMs },
      'the last member of a type left discovery: keeping it until one of its type joins or the grace is over',
    );
  }

  /** Whether this follower added `e`'s id as a member (and has not removed it). */
  private owns(e: DiscoveryEntry): boolean {
    return this.added.get(e.type)?.has(e.id) === true;
  }

  /** This follower's members of `type`. */
  private ids(type: string): Set<string> {
    let ids = this.added.get(type);
    if (!ids) this.added.set(type, (ids = new Set()));
    return ids;
  }

  private remove(e: DiscoveryEntry): void {
    // Forgotten once gone, so that this set holds listed entries only, not every id ever seen.
    this.refused.delete(`${e.type}/${e.id}`);
    // Only a member this follower added: one of that id configured or added by hand (the reason
    // the cluster refused the entry) stays when the entry goes.
    if (!this.added.get(e.type)?.delete(e.id)) return;
    const failed = (err: unknown): void => this.logger.warn({ type: e.type, id: e.id, reason: reason(err) }, 'removing a server that left discovery failed');
    try {
      // `remove` throws at once for a type the cluster does not have.
      this.cluster.remove(e.type, e.id).catch(failed);
    } catch (err) {
      failed(err);
    }
  }
}
