import type { Clock, Logger } from '@skein/core';
import type { ConnPool } from './conn-pool.js';
import type { MembershipEvent, ServerSpec } from './failover-pool-options.js';
import { PoolServer } from './pool-server.js';
import { RedirectTargets, type RedirectTargetOptions } from './redirect-targets.js';
import { placeOf, uniqueServers, type NormalServer } from './server-specs.js';
import { tellHook } from './app-hooks.js';
import { shownServer } from './shown-server.js';

/** What a FailoverPool's membership needs of the pool. */
export interface MembershipLink {
  /** Gives a server that joins its breaker and outlier score, as the pool's options say. */
  equip(m: PoolServer): void;
  /**
   * A change is over (`add`, `remove`, `replace`, a redirect's server in or out): what the
   * strategy picks from is `pickable()` now. Only a word, no list: n changes in one turn (a
   * discovery's first view, a full replacement) then cost O(n) in all, the lists being built
   * at the next read, where a list per change made them cost O(n²). `joined`: a server came in
   * (new, or a redirect's made a configured one), which may take calls waiting elsewhere; false
   * when the change only took servers out or updated a weight.
   */
  pickableChanged(joined: boolean): void;
  /**
   * `m` leaves, its pool about to close: out of the lists already, its pool not yet closed (the
   * pool takes the calls waiting there, unsent, and those the close fails unsent, to place them
   * again once the change is over, `pickableChanged`, which follows every leave).
   */
  leaving(m: PoolServer): void;
}

/** How a membership is set up. */
export interface MembershipSetup {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly redirectTargets: Partial<RedirectTargetOptions> | undefined;
  readonly onMembershipChange: ((event: MembershipEvent) => void) | undefined;
  /** The strategy follows redirects (`'leader'`): it picks from the servers redirects brought in too. */
  readonly picksRedirectTargets: boolean;
}

/**
 * A FailoverPool's servers: the configured ones (`add`, `remove`, `replace`) and the few a
 * redirect brought in for a while (`RedirectTargets`), each joining and leaving with an event;
 * and the pools of those that left, until they are drained. Apart from the pool because no
 * call's path changes membership (a redirect to a server not in the pool aside); calls read
 * the lists it builds (`members()`, `pickable()`) at their first read after a change.
 */
export class Membership {
  /**
   * Every member by its canonical address, in the order they joined (a Map keeps insertion
   * order): the pool reads it for redirects and named calls.
   */
  readonly byAddress = new Map<string, PoolServer>();
  /** `members()` as last built; undefined since a member joined or left. */
  private membersList: PoolServer[] | undefined;
  /** `pickable()` as last built; undefined since a change. */
  private pickableList: PoolServer[] | undefined;
  private readonly redirects: RedirectTargets<PoolServer>;
  /** Pools of removed servers, still draining, and when each is closed. */
  private readonly draining = new Map<ConnPool, Promise<void>>();

  constructor(
    private readonly setup: MembershipSetup,
    private readonly link: MembershipLink,
    servers: readonly ServerSpec[],
  ) {
    this.redirects = new RedirectTargets<PoolServer>(setup.redirectTargets, setup.clock, (m, why) => this.dropRedirectTarget(m, why));
    for (const s of uniqueServers(servers)) this.join(s, false);
    this.changed(true);
  }

  /**
   * The members, in the order they joined, as they are now (a hook reading the pool during a
   * change sees it so). A new array after each change, never changed in place: a caller
   * iterating one while a hook changes the membership keeps a consistent list.
   */
  members(): PoolServer[] {
    return (this.membersList ??= [...this.byAddress.values()]);
  }

  /** What the strategy picks from: the members, but a redirect's server only where it follows redirects. Built as `members()` is. */
  pickable(): PoolServer[] {
    if (this.pickableList) return this.pickableList;
    const members = this.members();
    const all = this.setup.picksRedirectTargets || this.redirects.size === 0;
    return (this.pickableList = all ? members : members.filter((m) => !this.redirects.has(m.address)));
  }

  /** Adds a server (or updates its weight); true when it was not in the pool. */
  add(s: NormalServer): boolean {
    const added = this.join(s, true);
    this.changed(added);
    return added;
  }

  /** Takes the server at (canonical) `address` out; resolves when its connections are closed. */
  remove(address: string): Promise<void> {
    const done = this.leave(address);
    this.changed(false);
    return done;
  }

  /** Makes the servers exactly `next`: adds the new, removes the missing, keeps (and reuses the pools of) the rest. */
  replace(next: readonly NormalServer[]): Promise<void> {
    const keep = new Set(next.map((s) => s.address));
    const removed = this.members()
      .filter((m) => !keep.has(m.address))
      .map((m) => this.leave(m.address));
    let joined = false;
    for (const s of next) if (this.join(s, true)) joined = true;
    this.changed(joined);
    return Promise.all(removed).then(() => undefined);
  }

  /**
   * The member a redirect from `from` to `to` goes to, brought into the pool for a while if it
   * is new; or why it is refused (`{ refused }`). `from` as log lines name it (`PoolServer.shown`).
   */
  redirectTo(to: string, from: string): string | { refused: string } {
    let place: { address: string; dialAddress: string };
    try {
      place = placeOf(to);
    } catch {
      return { refused: `redirect to an invalid address ${JSON.stringify(shownServer(to))}` };
    }
    const target = place.address;
    if (this.byAddress.has(target)) this.redirects.touch(target);
    else if (!this.redirects.accepting) return { refused: `redirect to ${shownServer(target)}, a server not in the pool, refused (redirectTargets.max is 0)` };
    else this.joinTemporary(target, from, place.dialAddress);
    return target;
  }

  /** Closes every member's pool; resolves when they and those still draining are closed. */
  close(): Promise<void> {
    this.redirects.stop();
    return Promise.all([...this.members().map((m) => m.pool?.close()), ...this.draining.values()]).then(() => undefined);
  }

  /** Ends every member's pool now, and those of removed servers still draining (`ConnPool.destroy`). */
  destroy(reason: string): void {
    for (const pool of [...this.members().map((m) => m.pool), ...this.draining.keys()]) pool?.destroy(reason);
  }

  /** Tells the pool that what its strategy picks from changed (a redirect's server in or out among them), and whether a server `joined`. */
  private changed(joined: boolean): void {
    this.pickableList = undefined;
    this.link.pickableChanged(joined);
  }

  /** Adds a configured server, or updates it; a server a redirect brought in becomes a configured one (announced again, without `temporary`). */
  private join({ address, weight, dialAddress }: NormalServer, announce: boolean): boolean {
    const known = this.byAddress.get(address);
    if (known) {
      known.weight = weight;
      // Given again in another spelling (`h:1` after `ws://h:1`): dialled so from now on, as a
      // transport that refused the old one may take the new.
      known.redial(dialAddress);
      if (!this.redirects.has(address)) return false;
      this.redirects.forget(address);
      if (announce) this.announce({ type: 'add', address, weight }, known);
      return true;
    }
    const m = new PoolServer(address, weight, dialAddress);
    this.enter(m);
    if (announce) this.announce({ type: 'add', address, weight }, m);
    return true;
  }

  /** Brings in a server only a redirect named: bounded in number, and it leaves when idle. */
  private joinTemporary(address: string, from: string, dialAddress: string): void {
    const m = new PoolServer(address, 1, dialAddress);
    this.setup.logger.info({ address: m.shown, from }, 'redirected to a server not in the pool: adding it while it is used');
    this.enter(m);
    this.announce({ type: 'add', address, weight: 1, temporary: true }, m);
    this.redirects.admit(m);
    this.changed(true);
  }

  private dropRedirectTarget(m: PoolServer, why: 'idle' | 'pushed out'): void {
    this.setup.logger.info({ address: m.shown, why }, 'a server a redirect brought in leaves the pool');
    void this.leave(m.address);
    this.changed(false);
  }

  private enter(m: PoolServer): void {
    this.link.equip(m);
    this.byAddress.set(m.address, m);
    this.membersList = this.pickableList = undefined;
  }

  private leave(address: string): Promise<void> {
    const m = this.byAddress.get(address);
    if (!m) return Promise.resolve();
    this.redirects.forget(address);
    this.byAddress.delete(address);
    this.membersList = this.pickableList = undefined;
    this.announce({ type: 'remove', address, weight: m.weight }, m);
    if (!m.pool) return Promise.resolve();
    this.link.leaving(m);
    const pool = m.pool;
    const closed = pool.close();
    this.draining.set(pool, closed);
    void closed.finally(() => this.draining.delete(pool));
    return closed;
  }

  private announce(event: MembershipEvent, m: PoolServer): void {
    tellHook(this.setup.logger, this.setup.onMembershipChange, event, 'onMembershipChange', m.shown);
  }
}
