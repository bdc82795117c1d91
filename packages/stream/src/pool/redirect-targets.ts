import { invalidArgument, refuseRenamed, withDefaults, type Clock, type OptionalFields, type Ticker } from '@skein/core';
import { timerMs } from '../internals/checks.js';

export interface RedirectTargetOptions {
  /** Servers brought in by redirects at once; past it the least recently redirected-to leaves. 0 refuses redirects to new servers. Default 4. */
  max: number;
  /** A server brought in by a redirect leaves once it has carried no call for this long (up to twice as long). Default 60 s. */
  idleTimeoutMs: number;
}

export const DEFAULT_REDIRECT_TARGETS: Readonly<RedirectTargetOptions> = { max: 4, idleTimeoutMs: 60_000 };

/** A pool member as this bookkeeping sees it. */
export interface RedirectTarget {
  readonly address: string;
  /** Calls sent to it and not settled yet. */
  readonly inFlight: number;
  /** Set by the pool each time a call is sent to it; cleared here on each sweep. */
  used: boolean;
}

/**
 * The servers that redirects brought into a pool, which its configuration never named. A
 * redirect is an answer from a server, and a server (or whoever controls one) may name any
 * address: so they are few (at most `max`: a new one pushes out the one least recently
 * redirected to) and temporary (one that carried no call for a whole sweep of `idleTimeoutMs` leaves),
 * and membership never grows without bound or for ever. The sweep runs only while there are any.
 */
export class RedirectTargets<T extends RedirectTarget> {
  /** In order of the last redirect to each: the first is the next to push out. */
  private readonly targets = new Map<string, T>();
  private readonly max: number;
  private readonly idleTimeoutMs: number;
  private ticker: Ticker | undefined;

  constructor(
    opts: OptionalFields<RedirectTargetOptions> | undefined,
    private readonly clock: Clock,
    /** Takes a target out of the pool: pushed out, or idle. */
    private readonly drop: (target: T, why: 'idle' | 'pushed out') => void,
  ) {
    if (opts) refuseRenamed(opts, 'idleMs', 'idleTimeoutMs', 'FailoverPool', 'redirectTargets.');
    const { max, idleTimeoutMs } = withDefaults<RedirectTargetOptions>(DEFAULT_REDIRECT_TARGETS, opts);
    if (!(Number.isInteger(max) && max >= 0)) throw invalidArgument(`redirectTargets.max must be a non-negative integer, got ${max}`);
    this.max = max;
    this.idleTimeoutMs = timerMs(idleTimeoutMs, 'redirectTargets.idleTimeoutMs');
  }

  /** False when redirects to servers not in the pool are refused (`max: 0`). */
  get accepting(): boolean {
    return this.max > 0;
  }

  get size(): number {
    return this.targets.size;
  }

  has(address: string): boolean {
    return this.targets.has(address);
  }

  /** A new target joined the pool; the oldest leaves if there are now too many. */
  admit(target: T): void {
    target.used = true;
    this.targets.set(target.address, target);
    this.ticker ??= this.clock.every(this.idleTimeoutMs, () => this.sweep());
    if (this.targets.size <= this.max) return;
    const oldest = this.targets.values().next().value!;
    this.targets.delete(oldest.address);
    this.drop(oldest, 'pushed out');
  }

  /** Another redirect to a target: it becomes the last to be pushed out. */
  touch(address: string): void {
    const t = this.targets.get(address);
    if (!t) return;
    this.targets.delete(address);
    this.targets.set(address, t);
  }

  /** The target left the pool, or became one of its configured servers: no longer temporary. */
  forget(address: string): void {
    if (this.targets.delete(address) && this.targets.size === 0) this.stop();
  }

  stop(): void {
    this.ticker?.stop();
    this.ticker = undefined;
  }

  private sweep(): void {
    for (const t of [...this.targets.values()]) {
      if (t.used || t.inFlight > 0) {
        t.used = false;
        continue;
      }
      this.targets.delete(t.address);
      this.drop(t, 'idle');
    }
    if (this.targets.size === 0) this.stop();
  }
}
