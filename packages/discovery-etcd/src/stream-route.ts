import { LeaseClient, Namespace, type Etcd3, type ICallable, type WatchBuilder } from 'etcd3';
import { ownWatch } from './own-watch.js';

/** etcd3 1.x's connection pool, as far as it is used here (it is the client's, not exported by it). */
interface Pool extends ICallable<unknown> {
  withConnection<R>(service: Parameters<ICallable<unknown>['withConnection']>[0], fn: Parameters<ICallable<unknown>['withConnection']>[1], hosts?: Iterator<unknown>): Promise<R>;
  /** Every member, endlessly, in the order etcd3 tries them (random; fixed under its `deterministicOrder`). */
  shuffledHosts(): Iterator<unknown>;
  readonly hosts: readonly unknown[];
}

/**
 * Where one follower's streams (a lease's keepalive stream, a prefix watch) are opened: on a member
 * that etcd3 picks as it does (at random), except the one its last stream was found silent on.
 *
 * Why: a stream takes no deadline (one would end it), so one opened on a stalled member (SIGSTOP,
 * a frozen host: its kernel still accepts, nothing answers) stays open and silent, and the LeaseKeeper
 * and the PrefixWatch notice that themselves. Opened again as etcd3 opens it, the new stream went
 * back to that member one time in three of three members (every time under etcd3's deterministic
 * order), silent again, while the lease ran out. etcd3 has no public way to choose a stream's member;
 * its pool's `withConnection` takes the order in which to try members, which is what is used here.
 * Without that pool (another major of etcd3) streams go where etcd3 sends them.
 */
export class StreamRoute {
  /** The member the last stream was opened on. */
  private last: unknown;
  /** The member found silent last: no stream goes to it while another member is there. */
  private avoided: unknown;
  private readonly callable: ICallable<unknown> | undefined;

  constructor(private readonly client: Etcd3) {
    const pool = poolOf(client);
    if (!pool) return;
    this.callable = {
      exec: (service, method, params, options) => pool.exec(service, method, params, options),
      withConnection: (service, fn) =>
        pool.withConnection(service, (args) => {
          this.last = args.resource;
          return fn(args);
        }, this.hosts(pool)),
      markFailed: (resource, err) => pool.markFailed(resource, err),
      get callOptionsFactory() {
        return pool.callOptionsFactory;
      },
    };
  }

  /** The last stream opened is silent: the next ones go to another member (the avoided member changes, never grows). */
  silent(): void {
    this.avoided = this.last;
  }

  /**
   * The last stream broke (an error, an end: not silence): the member avoided is no longer. It may
   * have answered again since, and be the one left: kept off it for good, a client given two members
   * sent every stream to the other one after that one went away, and its lease ran out.
   */
  broke(): void {
    this.avoided = undefined;
  }

  /** A lease client whose keepalive streams follow this route. */
  leaseClient(): LeaseClient {
    return this.callable ? new LeaseClient(this.callable) : this.client.leaseClient;
  }

  /**
   * A watch on a gRPC stream of its own (see ownWatch: a namespace with no prefix has its own watch
   * manager), opened on this route.
   */
  watch(): WatchBuilder {
    if (!this.callable) return ownWatch(this.client);
    const options = (this.client as unknown as { options: unknown }).options;
    const ns = Reflect.construct(Namespace, [Buffer.alloc(0), this.callable, options]) as Namespace;
    return ns.watch();
  }

  /** etcd3's own order of members, without the avoided one while there is another. */
  private *hosts(pool: Pool): Generator<unknown> {
    const all = pool.shuffledHosts();
    for (;;) {
      const host = all.next().value;
      if (host !== this.avoided || pool.hosts.length < 2) yield host;
    }
  }
}

/** The client's pool, if it is etcd3 1.x's (checked by what is used of it). */
function poolOf(client: Etcd3): Pool | undefined {
  const pool = (client as unknown as { pool?: Partial<Pool> }).pool;
  const usable = !!pool && typeof pool.withConnection === 'function' && typeof pool.shuffledHosts === 'function' && Array.isArray(pool.hosts) && typeof pool.exec === 'function';
  return usable ? (pool as Pool) : undefined;
}
