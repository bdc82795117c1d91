import { invalidArgument } from '@skein/core';
import { checkServiceName } from './health-service-name.js';
import { isServingStatus, type HealthStatus, type ServingStatus } from './health-status.js';
import { StatusWatch } from './status-watch.js';

/** What a reporter follows to know when to say `not-serving` for good: an `RpcServer`, or a handler's `ctx`. */
export interface Drainable {
  /** Aborts when the server begins to close (`RpcServer.draining`, `ctx.draining`). */
  readonly draining: AbortSignal;
}

/**
 * The health of a server and its services, as the application tells it, and as the health
 * service (`healthService(reporter)`) answers checks and feeds watches from it: gRPC's health
 * server. The whole server (`''`) starts `serving`; any other name is `unknown` until `set`.
 *
 * Once the server it is attached to begins to close (`attach(server)`; the health service's
 * handlers attach it to their own server too), or on `shutdown()`, every name is
 * `not-serving` for good: each watcher is sent that, then its stream ends, so the close does not
 * wait for watchers, and later `set`s change nothing (as gRPC's `Shutdown`). One reporter per
 * server: a reporter shared by two says `not-serving` for both when either closes.
 *
 * Memory: a status per name the application sets, and one small object per live watcher, kept
 * under its name (names are at most MAX_HEALTH_SERVICE_NAME long). A watcher is let go as its
 * stream ends, whichever way (cancel, deadline, lost connection, the server's close): `watchers`
 * counts those still held. How many a client may open is bounded by the server's own stream
 * caps: `maxInFlightPerConn` open streams per connection, `maxConnections` connections.
 */
export class HealthReporter {
  private readonly statuses = new Map<string, ServingStatus>([['', 'serving']]);
  private readonly watches = new Map<string, Set<StatusWatch>>();
  private live = 0;
  private shut = false;
  /** Signals listened to already: one listener per server, however many calls attach it. */
  private readonly followed = new WeakSet<AbortSignal>();
  private readonly release = (w: StatusWatch): void => this.forget(w);

  /** Sets `service`'s status (`''`: the whole server); its watchers are told if it changed. Ignored once shut down. */
  set(service: string, status: ServingStatus): void {
    checkServiceName(service, 'HealthReporter.set');
    if (!isServingStatus(status)) throw invalidArgument(`HealthReporter.set: status must be 'serving' or 'not-serving' (clear() makes a name unknown), got ${JSON.stringify(status)}`);
    if (this.shut || this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    this.tell(service, status);
  }

  /** Forgets `service`'s status: checks fail with ServiceUnknown, watchers are told `unknown`. Ignored once shut down. */
  clear(service: string): void {
    checkServiceName(service, 'HealthReporter.clear');
    if (this.shut || !this.statuses.delete(service)) return;
    this.tell(service, 'unknown');
  }

  /** `service`'s status now; `not-serving` for every name once shut down. */
  get(service: string): HealthStatus {
    checkServiceName(service, 'HealthReporter.get');
    if (this.shut) return 'not-serving';
    return this.statuses.get(service) ?? 'unknown';
  }

  /**
   * Every name `not-serving` from now on: each watcher is sent it, then its stream ends. What
   * `attach`'s server does when it begins to close; call it yourself to be taken out of a load
   * balancer's rotation before the close (a Kubernetes preStop).
   */
  shutdown(): void {
    if (this.shut) return;
    this.shut = true;
    for (const set of this.watches.values()) {
      for (const w of set) {
        w.offer('not-serving');
        w.end();
      }
    }
  }

  /** True once shut down (`shutdown()`, or the attached server began to close): statuses are `not-serving` for good. */
  get isShutDown(): boolean {
    return this.shut;
  }

  /** Shuts down when `server` begins to close (at once if it has): an `RpcServer`, or any `ctx`. Once per server. */
  attach(server: Drainable): void {
    const signal = server.draining;
    if (this.followed.has(signal)) return;
    this.followed.add(signal);
    if (signal.aborted) return this.shutdown();
    signal.addEventListener('abort', () => this.shutdown(), { once: true });
  }

  /** Watchers held now: one per watch stream not yet ended. */
  get watchers(): number {
    return this.live;
  }

  /**
   * A watcher of `service`: its status now, then each change, until its reader returns it (or
   * after `not-serving` once shut down). What the health service's `watch` hands its client.
   */
  watch(service: string): StatusWatch {
    checkServiceName(service, 'HealthReporter.watch');
    const w = new StatusWatch(service, this.get(service), this.release);
    if (this.shut) {
      w.end();
      return w;
    }
    let set = this.watches.get(service);
    if (set === undefined) this.watches.set(service, (set = new Set()));
    set.add(w);
    this.live++;
    return w;
  }

  private tell(service: string, status: HealthStatus): void {
    const set = this.watches.get(service);
    if (set !== undefined) for (const w of set) w.offer(status);
  }

  /** A watcher that ended: nothing of it is kept, nor its name once it was the last. */
  private forget(w: StatusWatch): void {
    const set = this.watches.get(w.service);
    if (set === undefined || !set.delete(w)) return;
    this.live--;
    if (set.size === 0) this.watches.delete(w.service);
  }
}
