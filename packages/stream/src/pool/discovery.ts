/**
 * The discovery contract: how servers announce themselves and how clients learn who is there,
 * whatever keeps the list (etcd, Consul, NATS KV, DNS SRV, a file). A backend is one file that
 * implements `Discovery` (and `Registrar` where servers can write to it); `DiscoveryFeed` keeps
 * the state and the events for it, and `followDiscovery` feeds a FailoverPool from any backend.
 *
 * The rules every backend keeps:
 * - A watch delivers the whole current view first (as joins), then changes, in order, each
 *   once. An entry is known by its type and id: a new id joins, a changed one is replaced, a
 *   gone one leaves.
 * - When the backend cannot be reached, the watch keeps the last view it had and says so in its
 *   status (`stale`, since when, why). Clients keep routing to what they knew: a discovery
 *   outage never empties a pool. When it reaches the backend again it delivers what changed
 *   meanwhile, and nothing twice.
 * - A registration is withdrawn before the server goes: `close()` first removes the entry (so
 *   clients stop routing new calls to it), and the caller then closes the server, whose calls
 *   in flight finish.
 */

/** One server as discovery knows it. */
export interface DiscoveryEntry {
  /** The server type ('chat', 'area'...): a pool follows one type. */
  readonly type: string;
  /** Unique within its type. Keep it across restarts of one server to get `replace` events. */
  readonly id: string;
  /** Where to call it, in the canonical form FailoverPool uses (`host:port`, `unix:/path`). */
  readonly address: string;
  /** For the 'weighted' and 'hash' strategies. */
  readonly weight: number;
  /** Free-form labels: zone, version... */
  readonly meta: Readonly<Record<string, string>>;
}

/** An entry as a server registers it or a list names it: weight defaults to 1, meta to none. */
export interface EntrySpec {
  readonly type: string;
  readonly id: string;
  readonly address: string;
  readonly weight?: number | undefined;
  readonly meta?: Readonly<Record<string, string>> | undefined;
}

export type DiscoveryEvent =
  | { readonly kind: 'join'; readonly entry: DiscoveryEntry }
  | { readonly kind: 'leave'; readonly entry: DiscoveryEntry }
  | { readonly kind: 'replace'; readonly entry: DiscoveryEntry; readonly previous: DiscoveryEntry };

/**
 * Whether what a watch (or a registration) holds is current. `since` is a clock time in ms.
 * `stale` holds from the start until the first full read, and whenever the backend is out of
 * reach: the last known view is kept meanwhile.
 */
export type DiscoveryStatus =
  | { readonly state: 'live'; readonly since: number }
  | { readonly state: 'stale'; readonly since: number; readonly reason: string }
  | { readonly state: 'closed'; readonly since: number };

/** `Watch.ready`'s bounds: without them it waits as long as the backend takes to answer. */
export interface ReadyOptions {
  /** Rejects with `Timeout` when the first full view is not in by then. */
  readonly timeoutMs?: number | undefined;
  /** Rejects with `Cancelled` when aborted first. */
  readonly signal?: AbortSignal | undefined;
}

/** A running watch of a backend. */
export interface Watch {
  status(): DiscoveryStatus;
  /** The entries known now. */
  entries(): DiscoveryEntry[];
  /**
   * Resolves once the first full view has been delivered, or the watch is closed. With
   * `timeoutMs` / `signal` it rejects with `Timeout` / `Cancelled` naming the watch's state
   * (the watch goes on); without them it waits as long as the backend takes.
   */
  ready(opts?: ReadyOptions): Promise<void>;
  /** Stops watching; sends no more events. What was delivered stays where it went. */
  close(): Promise<void>;
}

export interface Discovery {
  /** Watches every entry the backend holds; `onChange` is called in order, never concurrently. */
  watch(onChange: (event: DiscoveryEvent) => void): Watch;
}

/** A server's entry while it is registered. */
export interface Registration {
  readonly entry: DiscoveryEntry;
  /** `stale` while the backend cannot be reached or the entry is being written again. */
  status(): DiscoveryStatus;
  /** Withdraws the entry first, so that clients stop routing to it; then releases what it held. */
  close(): Promise<void>;
}

export interface Registrar {
  /** Writes the entry and keeps it alive until `close()`. Rejects if the first write fails. */
  register(entry: EntrySpec): Promise<Registration>;
}
