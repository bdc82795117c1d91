import { ErrorCode, RpcError, invalidArgument, guardedLogger, silentLogger, type Codec, type Logger, type Transport } from '@skein/core';
import { FailoverPool, refusedStream, serverKey, type Caller, type CallOptions, type Credentials, type FailoverPoolOptions, type Notify, type StreamCaller } from '@skein/stream';
import { createClient, type CallArgs, type Client, type MethodCallOptions, type Result } from './client.js';
import type { ArgOf, ClientArgOf, ErrorOf, IsStream, ResultOf, ServiceDef } from './define.js';
import type { Filter } from './filters.js';
import { checkCodec, checkDefaultTimeout } from './option-checks.js';

/** One server of a type, as pomelo's master announces it. */
export interface Member {
  readonly id: string;
  readonly address: string;
  readonly weight?: number | undefined;
}

/** Picks a member id for a call from its route key (pomelo's route function). */
export type RouteFunction = (routeKey: string | undefined, servers: readonly Member[]) => string | undefined;

export interface ServerTypeConfig<S extends readonly ServiceDef[] = readonly ServiceDef[]> {
  /** The services every server of this type serves. */
  readonly services: S;
  readonly servers?: readonly Member[] | undefined;
  /**
   * A route function sends each call, and opens each stream, on exactly the member it names (no
   * failover, as in pomelo). Without one, the pool's `strategy` picks, with failover.
   */
  readonly route?: RouteFunction | undefined;
  readonly strategy?: FailoverPoolOptions['strategy'];
  readonly pool?: Partial<Omit<FailoverPoolOptions, 'transport' | 'servers' | 'strategy'>> | undefined;
}

export interface ClusterOptions<T extends Record<string, ServerTypeConfig>> {
  codec: Codec;
  transport: Transport;
  types: T;
  timeoutMs?: number | undefined;
  filters?: readonly Filter[] | undefined;
  logger?: Logger | undefined;
  /**
   * Presented on every connection to every server (docs/auth.md): a token, or a function called
   * per connection and renewal. A type's own `pool.pool.stream.credentials` wins over it.
   */
  credentials?: Credentials | undefined;
  /** Told when members join or leave (pomelo master's events). */
  onMembershipChange?: ((event: 'add' | 'remove', type: string, member: Member) => void) | undefined;
  /**
   * Wraps each Caller the cluster's stubs send through (a type's, and each member's for `$to`
   * and `$all`), made once per stub set: tracing (`tracedCaller` of @skein/otel), metrics, your
   * own. Keep what it is given able to open streams: return a Caller with `openStream` when
   * the one given has it.
   */
  wrapCaller?: ((caller: Caller, target: CallerTarget) => Caller) | undefined;
}

/** What a wrapped Caller sends to: a server type (through its pool), or one member of it. */
export interface CallerTarget {
  readonly type: string;
  /** The type's pool, for its `stats()`. */
  readonly pool: FailoverPool;
  /** For a member's stubs (`$to`, `$all`): the member, when it is one now. */
  readonly member?: Member;
}

type ServiceClients<S extends readonly ServiceDef[]> = { readonly [D in S[number] as D['name']]: Client<D> };

/** One server's answer to a broadcast. */
export type BroadcastResult<R, E> = { readonly server: string } & Result<R, E>;

/** A streaming method: its result or its argument is a stream (the handler's: a client may pass a sync iterable). */
type IsStreaming<M> = IsStream<ResultOf<M>> extends true ? true : IsStream<ArgOf<M>>;

/** `$all`'s stubs: the unary methods only, as a stream does not fan out (its stub refuses one at run time too). */
type BroadcastClients<S extends readonly ServiceDef[]> = {
  readonly [D in S[number] as D['name']]: {
    readonly [K in keyof D['methods'] as IsStreaming<D['methods'][K]> extends true ? never : K]: (
      ...args: CallArgs<ClientArgOf<D['methods'][K]>>
    ) => Promise<BroadcastResult<ResultOf<D['methods'][K]>, ErrorOf<D['methods'][K]>>[]>;
  };
};

export type TypeClient<S extends readonly ServiceDef[]> = ServiceClients<S> & {
  /**
   * The same stubs, bound to one named server (pomelo's `toServer(id)`), without failover. An id
   * that is not a string (`undefined`, `null`) throws InvalidArgument here.
   */
  $to(id: string): ServiceClients<S>;
  /** Calls every server of the type and collects each one's result or error (`toServer('*')`); unary methods only. */
  readonly $all: BroadcastClients<S>;
};

/**
 * `rpc.$cluster`: its members at run time. `Type`: the cluster's server types, fixed when it was
 * made, so that a misspelt one fails to compile (at run time it is InvalidArgument); a plain
 * `ClusterControl` takes any string (methods are bivariant: any cluster's control fits it).
 */
export interface ClusterControl<Type extends string = string> {
  add(type: Type, member: Member): void;
  /**
   * Changes a member's weight in place (no remove and add: its connections, breaker and
   * outlier score stay). A new address is a move: the member leaves and joins again.
   */
  update(type: Type, member: Member): void;
  /** Removes a member; its calls in flight are allowed to finish. */
  remove(type: Type, id: string): Promise<void>;
  members(type: Type): Member[];
  /** How many members the type has: `members(type).length` without copying the list. */
  count(type: Type): number;
  /**
   * Whether the member `id` answers: its server has a connection up (not one never connected
   * to, backing off, reconnecting after a failure, or closed; a server that leaves gracefully
   * closes its connections). False for no such member. A discovery follower keeps a type's last
   * member that left discovery (cut off from it, not from its clients) while this holds
   * (`followClusterDiscovery` of @skein/discovery-etcd).
   */
  answers(type: Type, id: string): boolean;
  /**
   * Calls `changed` after each state change of the connections to the type's servers and each
   * member added or removed (a microtask on: never within the change), until the function
   * returned is called: how a follower hears that a held member may have stopped answering or
   * is no longer the type's last. Nothing is watched, and calls pay
   * nothing for it, while no one watches.
   */
  watchStates(type: Type, changed: () => void): () => void;
  /**
   * Stops every type's pool; calls in flight and open streams finish (a stream without a
   * `timeoutMs`, a watch, holds it until it ends: cancel it, or `destroy()`).
   */
  close(): Promise<void>;
  /** Ends every type's calls and open streams at once (`FailoverPool.destroy`); `close()` then resolves. */
  destroy(reason?: string): void;
  /**
   * Whether `close()` or `destroy()` was called: a discovery follower removes nothing from a
   * closed cluster (`followClusterDiscovery` of @skein/discovery-etcd).
   */
  readonly closed: boolean;
}

export type Cluster<T extends Record<string, ServerTypeConfig>> = { readonly [K in keyof T]: TypeClient<T[K]['services']> } & {
  readonly $cluster: ClusterControl<Extract<keyof T, string>>;
};

/**
 * A client for a cluster of server types (pomelo's model on Skein's pools):
 * `rpc.chat.Chat.send(arg, { route: roomId })`, `rpc.chat.$to('chat-2').Chat.send(...)`,
 * `rpc.chat.$all.Chat.stats()`. Each type has one FailoverPool; servers join and leave at run
 * time through `rpc.$cluster`.
 */
export function createCluster<const T extends Record<string, ServerTypeConfig>>(opts: ClusterOptions<T>): Cluster<T> {
  // Before any type's pool is made: its stubs would refuse them too, with a pool left behind.
  checkCodec(opts.codec, 'createCluster');
  checkDefaultTimeout(opts.timeoutMs, 'createCluster');
  const types = new Map<string, ServerType>();
  const out: Record<string, unknown> = {};
  for (const [name, config] of Object.entries(opts.types)) {
    const t = new ServerType(name, config, opts);
    types.set(name, t);
    out[name] = t.client();
  }
  const get = (type: string): ServerType => {
    const t = types.get(type);
    if (!t) throw new RpcError(ErrorCode.InvalidArgument, `no server type '${type}' in this cluster`);
    return t;
  };
  let closed = false;
  out.$cluster = {
    add: (type, member) => get(type).add(member),
    update: (type, member) => get(type).update(member),
    remove: (type, id) => get(type).remove(id),
    members: (type) => get(type).members(),
    count: (type) => get(type).count(),
    answers: (type, id) => get(type).answers(id),
    watchStates: (type, changed) => get(type).pool.watchStates(changed),
    close: async () => {
      closed = true;
      await Promise.all([...types.values()].map((t) => t.pool.close()));
    },
    destroy: (reason) => {
      closed = true;
      for (const t of types.values()) t.pool.destroy(reason);
    },
    get closed() {
      return closed;
    },
  } satisfies ClusterControl;
  return out as Cluster<T>;
}

/** The members, pool and stubs of one server type. */
class ServerType {
  readonly pool: FailoverPool;
  private readonly byId = new Map<string, Member>();
  /**
   * How many ids name each server (two may: a replaced one registered again), by its canonical
   * address: the pool keeps a server while one does. Counted, not searched for per remove,
   * which made every member leaving at once (a lease expiry storm) O(n²).
   */
  private readonly idsPerServer = new Map<string, number>();
  /** `list` as last built; undefined since an add, update or remove. */
  private listed: readonly Member[] | undefined;
  private readonly pinned = new Map<string, Record<string, Client<ServiceDef>>>();
  private readonly logger: Logger;

  constructor(
    readonly name: string,
    private readonly config: ServerTypeConfig,
    private readonly opts: ClusterOptions<Record<string, ServerTypeConfig>>,
  ) {
    this.logger = guardedLogger(opts.logger ?? silentLogger);
    // The pool's servers, each once (two ids may name one server, a replaced one, as `add` allows), by the key counted for it.
    const servers = new Map<string, { address: string; weight?: number }>();
    for (const m of config.servers ?? []) {
      if (this.byId.has(m.id)) throw invalidArgument(`server '${m.id}' of type '${name}' is listed twice`);
      this.byId.set(m.id, m);
      const key = keyOrAsGiven(m.address);
      this.counted(key, 1);
      servers.set(key, { address: m.address, weight: m.weight });
    }
    this.pool = new FailoverPool({
      ...config.pool,
      pool: withCredentials(config.pool?.pool, opts.credentials),
      transport: opts.transport,
      servers: [...servers.values()],
      strategy: config.strategy,
      logger: this.logger,
    });
  }

  /**
   * `byId`'s members (never changed in place), for route functions and broadcasts: built at the
   * first read after a change, so n changes in one turn build it once, not n times.
   */
  private get list(): readonly Member[] {
    return (this.listed ??= Object.freeze([...this.byId.values()]));
  }

  /** A copy: the caller may change it. */
  members(): Member[] {
    return [...this.list];
  }

  count(): number {
    return this.byId.size;
  }

  /** Whether the member `id` answers: the pool's server at its address has a connection up. */
  answers(id: string): boolean {
    const member = this.byId.get(id);
    return member !== undefined && this.pool.answers(member.address);
  }

  /** All or nothing: the pool takes the server first, so a member it refuses (a bad address or weight, a closed cluster) is never listed. */
  add(member: Member): void {
    if (typeof member?.id !== 'string' || member.id === '') throw invalidArgument(`a member of '${this.name}' needs a non-empty string id`);
    if (this.byId.has(member.id)) throw new RpcError(ErrorCode.InvalidArgument, `server '${member.id}' of type '${this.name}' already exists`);
    this.pool.add({ address: member.address, weight: member.weight });
    this.byId.set(member.id, member);
    this.listed = undefined;
    this.counted(serverKey(member.address), 1);
    this.announce('add', member);
  }

  update(member: Member): void {
    const known = this.byId.get(member?.id);
    if (!known) throw this.noSuchServer(member?.id);
    // The pool takes the server first (a new one, or the new weight of the one it has): one it
    // refuses leaves everything as it was.
    this.pool.add({ address: member.address, weight: member.weight });
    if (serverKey(known.address) !== serverKey(member.address)) {
      void this.remove(member.id);
      return this.add(member);
    }
    this.byId.set(member.id, member);
    this.listed = undefined;
    this.pinned.delete(member.id); // made for the member as it was (`wrapCaller` sees it)
  }

  async remove(id: string): Promise<void> {
    const member = this.byId.get(id);
    if (!member) return;
    this.byId.delete(id);
    this.listed = undefined;
    this.pinned.delete(id);
    this.announce('remove', member);
    // Another id may share the server, under any spelling of its address (a replaced server): keep the pool then.
    if (this.counted(serverKey(member.address), -1) === 0) await this.pool.remove(member.address);
  }

  /** Adds `by` to the ids naming the server at `key`; how many name it now. */
  private counted(key: string, by: 1 | -1): number {
    const n = (this.idsPerServer.get(key) ?? 0) + by;
    if (n > 0) this.idsPerServer.set(key, n);
    else this.idsPerServer.delete(key);
    return n;
  }

  /** Tells the application; its listener throwing never leaves a change half made. */
  private announce(event: 'add' | 'remove', member: Member): void {
    try {
      this.opts.onMembershipChange?.(event, this.name, member);
    } catch (err) {
      this.logger.error({ err, event, type: this.name, id: member.id }, 'onMembershipChange threw');
    }
  }

  client(): TypeClient<readonly ServiceDef[]> {
    const routed = this.config.route ? this.routedCaller(this.config.route) : this.pool;
    const stubs = this.stubs(this.wrapped(routed));
    return Object.freeze({
      ...stubs,
      $to: (id: string) => this.pinnedStubs(serverId(id)),
      $all: this.broadcast(),
    }) as unknown as TypeClient<readonly ServiceDef[]>;
  }

  private wrapped(caller: Caller, member?: Member): Caller {
    const wrap = this.opts.wrapCaller;
    return wrap ? wrap(caller, { type: this.name, pool: this.pool, member }) : caller;
  }

  private stubs(caller: Caller): Record<string, Client<ServiceDef>> {
    const { codec, timeoutMs, filters, logger } = this.opts;
    const out: Record<string, Client<ServiceDef>> = {};
    for (const def of this.config.services) out[def.name] = createClient(def, caller, { codec, timeoutMs, filters, logger });
    return out;
  }

  private pinnedStubs(id: string): Record<string, Client<ServiceDef>> {
    let stubs = this.pinned.get(id);
    if (!stubs) {
      stubs = this.stubs(this.wrapped(this.memberCaller(id), this.byId.get(id)));
      if (this.byId.has(id)) this.pinned.set(id, stubs);
    }
    return stubs;
  }

  /** Calls and streams to the member `id` — looked up at call time, so a removed member fails at once. */
  private memberCaller(id: string): StreamCaller {
    return this.callerTo(() => this.byId.get(id) ?? this.noSuchServer(id));
  }

  /** Calls and streams to the member the route function names for each. */
  private routedCaller(route: RouteFunction): StreamCaller {
    return this.callerTo((o) => {
      // No member to name: the pool's own answer when it has no server, not the route function's.
      if (this.list.length === 0) return new RpcError(ErrorCode.Unreachable, `no servers of type '${this.name}'`, { retry: 'safe' });
      let id: unknown;
      try {
        id = route(o.route, this.list);
      } catch (err) {
        return new RpcError(ErrorCode.InvalidArgument, `route function of '${this.name}' threw: ${String(err)}`);
      }
      // Returning no id (`undefined`, or a plain JS `?? null`) is the route function's refusal,
      // not a server named 'undefined' or 'null'.
      if (typeof id !== 'string') return new RpcError(ErrorCode.InvalidArgument, `route function of '${this.name}' named no server for route key ${JSON.stringify(o.route)}`);
      return this.byId.get(id) ?? this.noSuchServer(id);
    });
  }

  /**
   * Calls and streams to the one member `target` names for each (no failover, as in pomelo):
   * through the pool's `sendTo` and `openStreamTo`, so they share its connections, breakers and
   * outlier scores. A target that is no member fails the call, or the stream, with its error.
   */
  private callerTo(target: (o: CallOptions) => Member | RpcError): StreamCaller {
    const pool = this.pool;
    return {
      // The pool's default bounds the calls sent through it, and so a client filter's wait for one.
      get timeoutMs() {
        return pool.timeoutMs;
      },
      send: (action: string | number, msg: Uint8Array, o: CallOptions, notify: Notify) => {
        const member = target(o);
        if (member instanceof RpcError) return notify(member, null);
        this.pool.sendTo(member.address, action, msg, o, notify);
      },
      openStream: (action: string | number, msg?: Uint8Array, o: CallOptions = {}) => {
        const member = target(o);
        return member instanceof RpcError ? refusedStream(member) : this.pool.openStreamTo(member.address, action, msg, o);
      },
    };
  }

  /**
   * A stream is one conversation with one server: fanned out, its values would come from many
   * servers in no order, and a client stream's values would have to be read once and sent to
   * each. `$all` refuses it, before any server is asked; `$to(id)` opens it on each.
   */
  private noFanOut(action: string): RpcError {
    return invalidArgument(`${action}: a streaming method cannot fan out to every server of '${this.name}' ($all); open it on each through $to(id)`);
  }

  private noSuchServer(id: string | undefined): RpcError {
    return new RpcError(ErrorCode.InvalidArgument, `no server '${id}' of type '${this.name}'`);
  }

  private broadcast(): Record<string, Record<string, (arg: unknown, o?: MethodCallOptions) => Promise<unknown[]>>> {
    const out: Record<string, Record<string, (arg: unknown, o?: MethodCallOptions) => Promise<unknown[]>>> = {};
    for (const def of this.config.services) {
      const methods: Record<string, (arg: unknown, o?: MethodCallOptions) => Promise<unknown[]>> = {};
      for (const [name, md] of Object.entries(def.methods)) {
        if (md.stream) {
          methods[name] = () => Promise.reject(this.noFanOut(`${def.name}.${name}`));
          continue;
        }
        methods[name] = (arg, o) =>
          Promise.all(
            oneIdPerServer(this.list).map(async (m) => {
              const stub = this.pinnedStubs(m.id)[def.name] as unknown as Record<string, { result(a: unknown, o?: MethodCallOptions): Promise<Result<unknown, unknown>> }>;
              return { server: m.id, ...(await stub[name]!.result(arg, o)) };
            }),
          );
      }
      out[def.name] = methods;
    }
    return out;
  }
}

/**
 * `$to`'s argument: a server id. Anything else (`$to(undefined)` from a session without one) is
 * refused where it is written, not sent as a call to a server named 'undefined'.
 */
function serverId(id: unknown): string {
  if (typeof id !== 'string') throw invalidArgument(`$to needs a server id (a string), got ${id === null ? 'null' : typeof id}`);
  return id;
}

/** An address as one key per server (`serverKey`, as the FailoverPool keys its members), or as given when it has none (the pool refuses it, naming it). */
function keyOrAsGiven(address: string): string {
  try {
    return serverKey(address);
  } catch {
    return address;
  }
}

/**
 * The members `$all` calls: one per server, the first to join of the ids that name it. Two ids
 * may name one server (a replaced one registered again before its old entry left): called once
 * per id, it would run a call that is not idempotent twice.
 */
function oneIdPerServer(members: readonly Member[]): Member[] {
  const seen = new Set<string>();
  return members.filter((m) => {
    const key = keyOrAsGiven(m.address);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A type's ConnPool options with the cluster's credentials, unless the type has its own. */
function withCredentials(pool: FailoverPoolOptions['pool'], credentials: Credentials | undefined): FailoverPoolOptions['pool'] {
  if (credentials === undefined || pool?.stream?.credentials !== undefined) return pool;
  return { ...pool, stream: { ...pool?.stream, credentials } };
}
