import { guardedLogger, silentLogger, type Logger } from '@skein/core';
import type { Discovery, DiscoveryEntry, DiscoveryEvent, Watch } from '@skein/stream';
import { reason } from './reason.js';

/**
 * The membership part of `createCluster(...).$cluster` from @skein/api. Written out here (the
 * shapes match) so that this package does not depend on @skein/api.
 */
export interface ClusterMembership {
  add(type: string, member: { readonly id: string; readonly address: string; readonly weight?: number }): void;
  /** Changes a member's weight in place; without it, a new weight is a remove and an add. */
  update?(type: string, member: { readonly id: string; readonly address: string; readonly weight?: number }): void;
  remove(type: string, id: string): Promise<void>;
}

export interface FollowClusterOptions {
  /** Only these server types; default every type the cluster has (others are logged once and skipped). */
  types?: readonly string[];
  logger?: Logger;
}

/**
 * Keeps a cluster's members equal to a discovery backend's entries, type by type, through the
 * cluster's `add` and `remove`. A member that leaves gets no new calls and its calls in flight
 * finish; nothing here waits for that. Returns the watch (status, close).
 */
export function followClusterDiscovery(cluster: ClusterMembership, discovery: Discovery, opts: FollowClusterOptions = {}): Watch {
  const follower = new ClusterFollower(cluster, opts.types, guardedLogger(opts.logger ?? silentLogger));
  return discovery.watch((event) => follower.apply(event));
}

class ClusterFollower {
  private readonly types: ReadonlySet<string> | undefined;
  /** Entries the cluster refused (a type it does not have, an id it has already), each logged once while listed. */
  private readonly refused = new Set<string>();

  constructor(
    private readonly cluster: ClusterMembership,
    types: readonly string[] | undefined,
    private readonly logger: Logger,
  ) {
    this.types = types && new Set(types);
  }

  apply(event: DiscoveryEvent): void {
    const { entry } = event;
    if (this.types && !this.types.has(entry.type)) return;
    switch (event.kind) {
      case 'join':
        return this.join(entry);
      case 'leave':
        return this.leave(entry);
      case 'replace':
        // A cluster member has no meta; a change of meta alone changes nothing there.
        if (entry.address === event.previous.address && entry.weight === event.previous.weight) return;
        // A new weight alone: changed in place, so the member keeps its connections and health.
        if (entry.address === event.previous.address && this.cluster.update) return this.reweigh(entry);
        // A move (or a cluster without update): the member leaves (synchronously, its calls in
        // flight finish) and comes back with its new address in the same turn, so no call sees a gap.
        this.leave(event.previous);
        return this.join(entry);
    }
  }

  private join(e: DiscoveryEntry): void {
    try {
      this.cluster.add(e.type, { id: e.id, address: e.address, weight: e.weight });
    } catch (err) {
      const key = `${e.type}/${e.id}`;
      if (this.refused.has(key)) return;
      this.refused.add(key);
      this.logger.warn({ type: e.type, id: e.id, reason: reason(err) }, 'the cluster refused a discovered server');
    }
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
    // Forgotten once gone, so that this set holds listed entries only, not every id ever seen;
    // and removing what the cluster refused fails as adding it did (no such type): said already.
    const refused = this.refused.delete(`${e.type}/${e.id}`);
    const failed = (err: unknown): void => {
      if (!refused) this.logger.warn({ type: e.type, id: e.id, reason: reason(err) }, 'removing a server that left discovery failed');
    };
    try {
      // `remove` throws at once for a type the cluster does not have.
      this.cluster.remove(e.type, e.id).catch(failed);
    } catch (err) {
      failed(err);
    }
  }
}
