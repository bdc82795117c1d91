import { ErrorCode, RpcError, afterMacrotask } from '@skein/core';
import { HashRing } from './hash-ring.js';
import { shownServer } from './shown-server.js';

/** A server as strategies and picker functions see it. */
export interface ServerView {
  readonly address: string;
  readonly weight: number;
  /** False while its pool cannot reach it (backoff, or reconnecting after one). */
  readonly healthy: boolean;
  /** Calls sent to it and not settled yet (on the wire or waiting), and streams open on it. */
  readonly inFlight: number;
}

/**
 * Picks a server for a call from its route key. Returning undefined leaves the choice to
 * round-robin among the servers offered.
 */
export type ServerPicker = (routeKey: string | undefined, servers: readonly ServerView[]) => ServerView | string | undefined;

export type Strategy = 'round-robin' | 'round-robin-by-turn' | 'leader' | 'weighted' | 'least-active' | 'hash' | ServerPicker;

/** Picks a server among those `accept` takes; the pool asks again with a wider `accept` when none fits. */
export interface Selector<S extends ServerView> {
  pick(key: string | undefined, servers: readonly S[], accept: (s: S) => boolean): S | undefined;
  /** A call on `address` failed and is moving on. */
  failed?(address: string): void;
  /** A server redirected a call to `address`. */
  redirected?(address: string): void;
  /** The servers (or their weights) changed. */
  membershipChanged?(servers: readonly S[]): void;
  /**
   * True when the strategy spreads calls and insists on no server for any (no key, no leader, no
   * function's choice): a call its pick would keep waiting for room on a server whose connections
   * are all full may go to another that can send it at once (`FailoverPool.placeForRoom`).
   */
  readonly spreads?: boolean;
}

export function createSelector<S extends ServerView>(strategy: Strategy): Selector<S> {
  if (typeof strategy === 'function') return new Routed<S>(strategy);
  switch (strategy) {
    case 'round-robin':
      return new RoundRobin<S>();
    case 'round-robin-by-turn':
      return new RoundRobinByTurn<S>();
    case 'leader':
      return new Leader<S>();
    case 'weighted':
      return new SmoothWeighted<S>();
    case 'least-active':
      return new LeastActive<S>();
    case 'hash':
      return new ConsistentHash<S>();
    default:
      throw new RpcError(ErrorCode.InvalidArgument, `unknown strategy ${JSON.stringify(strategy)}`);
  }
}

/** Each server in turn. */
class RoundRobin<S extends ServerView> implements Selector<S> {
  readonly spreads = true;
  private next = 0;

  pick(_key: string | undefined, servers: readonly S[], accept: (s: S) => boolean): S | undefined {
    const n = servers.length;
    for (let i = 0; i < n; i++) {
      const j = (this.next + i) % n;
      const s = servers[j]!;
      if (accept(s)) {
        this.next = (j + 1) % n;
        return s;
      }
    }
    return undefined;
  }
}

/**
 * Round-robin by turn: the calls made in one macrotask (one run of the event loop: the answers of
 * one read and what their callbacks send) go to one server, the next turn's to the next. Each
 * connection then carries batches as long as one stream's, where per-call turns split every
 * batch over all the servers (docs/benchmarks.md, "FailoverPool over 3 servers"): ~1.45× the
 * calls/s at 256 in flight over three servers, the spread over time as even, a burst made in one
 * turn on one server. A retry, or a call the held server does not take, goes round as usual.
 */
class RoundRobinByTurn<S extends ServerView> implements Selector<S> {
  readonly spreads = true;
  private readonly turns = new RoundRobin<S>();
  /** The server of this turn's calls; undefined until the turn's first call picks it. */
  private held: S | undefined = undefined;
  private readonly turnOver = (): void => {
    this.held = undefined;
  };

  pick(key: string | undefined, servers: readonly S[], accept: (s: S) => boolean): S | undefined {
    const held = this.held;
    if (held !== undefined && accept(held) && servers.includes(held)) return held;
    const s = this.turns.pick(key, servers, accept);
    if (s === undefined) return undefined;
    if (held === undefined) afterMacrotask(this.turnOver);
    // A retry (the held one not accepted for it) leaves the turn's server as it is; one gone from the list is replaced.
    if (held === undefined || !servers.includes(held)) this.held = s;
    return s;
  }
}

/**
 * Every call to the current leader until it fails or a server redirects elsewhere. A failed or
 * unhealthy leader is replaced by the next server in order after it.
 */
class Leader<S extends ServerView> implements Selector<S> {
  private leader: string | undefined;
  /** The last leader, so that the next election starts after it. */
  private previous: string | undefined;

  pick(_key: string | undefined, servers: readonly S[], accept: (s: S) => boolean): S | undefined {
    const n = servers.length;
    const at = servers.findIndex((s) => s.address === (this.leader ?? this.previous));
    const current = this.leader === undefined || at < 0 ? undefined : servers[at]!;
    if (current && accept(current)) return current;
    for (let i = 1; i <= n; i++) {
      const s = servers[(at + i + n) % n]!;
      if (!accept(s)) continue;
      // A healthy leader skipped only because this call already tried it stays the leader.
      if (!current?.healthy) this.elect(s.address);
      return s;
    }
    return undefined;
  }

  failed(address: string): void {
    if (address === this.leader) this.elect(undefined);
  }

  redirected(address: string): void {
    this.elect(address);
  }

  private elect(address: string | undefined): void {
    if (this.leader !== undefined) this.previous = this.leader;
    this.leader = address;
  }
}

/** nginx's smooth weighted round-robin: a weight-5 server gets 5 of every 7 calls next to two weight-1 ones, interleaved. */
class SmoothWeighted<S extends ServerView> implements Selector<S> {
  readonly spreads = true;
  private readonly current = new Map<string, number>();

  pick(_key: string | undefined, servers: readonly S[], accept: (s: S) => boolean): S | undefined {
    let best: S | undefined;
    let bestWeight = -Infinity;
    let total = 0;
    for (const s of servers) {
      if (!accept(s)) continue;
      const w = (this.current.get(s.address) ?? 0) + s.weight;
      this.current.set(s.address, w);
      total += s.weight;
      if (w > bestWeight) {
        best = s;
        bestWeight = w;
      }
    }
    if (best) this.current.set(best.address, bestWeight - total);
    return best;
  }

  membershipChanged(): void {
    this.current.clear();
  }
}

/** The server with the fewest calls in flight; ties go round. */
class LeastActive<S extends ServerView> implements Selector<S> {
  readonly spreads = true;
  private next = 0;

  pick(_key: string | undefined, servers: readonly S[], accept: (s: S) => boolean): S | undefined {
    const n = servers.length;
    let best: S | undefined;
    let least = Infinity;
    this.next = (this.next + 1) % Math.max(n, 1);
    for (let i = 0; i < n; i++) {
      const s = servers[(this.next + i) % n]!;
      if (!accept(s)) continue;
      const load = s.inFlight;
      if (load < least) {
        best = s;
        least = load;
      }
    }
    return best;
  }
}

/** A consistent-hash ring on the call's route key; calls without one go round-robin. */
class ConsistentHash<S extends ServerView> implements Selector<S> {
  private readonly ring = new HashRing();
  private byAddress = new Map<string, S>();
  private readonly fallback = new RoundRobin<S>();
  /**
   * Servers not on the ring yet. A build costs `vnodes × servers` points: done at the next keyed
   * pick, not per change, so servers joining one by one (a discovery's first view: n joins) make
   * one build, not n of them (n² points: seconds of a blocked event loop at a few hundred).
   */
  private pending: readonly S[] | undefined;

  pick(key: string | undefined, servers: readonly S[], accept: (s: S) => boolean): S | undefined {
    if (key === undefined) return this.fallback.pick(key, servers, accept);
    if (this.pending) this.build(this.pending);
    const address = this.ring.lookup(key, (a) => {
      const s = this.byAddress.get(a);
      return s !== undefined && accept(s);
    });
    return address === undefined ? undefined : this.byAddress.get(address);
  }

  membershipChanged(servers: readonly S[]): void {
    this.pending = servers;
  }

  private build(servers: readonly S[]): void {
    this.pending = undefined;
    this.ring.set(servers);
    this.byAddress = new Map(servers.map((s) => [s.address, s]));
  }
}

/** The application's picker function, offered the servers `accept` takes. */
class Routed<S extends ServerView> implements Selector<S> {
  private readonly fallback = new RoundRobin<S>();

  constructor(private readonly route: ServerPicker) {}

  pick(key: string | undefined, servers: readonly S[], accept: (s: S) => boolean): S | undefined {
    const offered = servers.filter(accept);
    if (offered.length === 0) return undefined;
    const choice = this.route(
      key,
      offered.map(({ address, weight, healthy, inFlight }) => ({ address, weight, healthy, inFlight })),
    );
    if (choice === undefined) return this.fallback.pick(key, offered, () => true);
    const address = typeof choice === 'string' ? choice : choice.address;
    const chosen = servers.find((s) => s.address === address);
    if (!chosen) throw new RpcError(ErrorCode.InvalidArgument, `picker function chose ${shownServer(String(address))}, which is not in the pool`);
    return chosen;
  }
}
