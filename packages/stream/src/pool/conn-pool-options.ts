import { systemClock, type Address, type Clock, type Logger, type OptionalFields, type Transport } from '@skein/core';
import { timerMs } from '../internals/checks.js';
import type { BackoffOptions } from './backoff.js';
import type { ClientStreamOptions } from '../client/options.js';

/*
 * Apart from ConnPool (conn-pool.ts): what a user gives a pool and reads of it (a FailoverPool
 * gives each of its servers' pools the same), the contract the class keeps.
 */

/**
 * - `idle`: never used, no connection yet.
 * - `connecting`: no connection is up; one is being opened, or waits for the answer to its first ping.
 * - `ready`: at least one connection is up and has answered a ping.
 * - `backoff`: the last connect failed (or the last connection was lost); waiting to retry.
 * - `closed`: `close()` or `destroy()` was called.
 */
export type PoolState = 'idle' | 'connecting' | 'ready' | 'backoff' | 'closed';

export interface ConnPoolOptions {
  transport: Transport;
  /** `host:port`, `unix:/path` or an Address. */
  address: string | Address;
  /** Options for each connection: window, timeouts, keepalive, limits... */
  stream?: Partial<Omit<ClientStreamOptions, 'transport' | 'address' | 'onClose'>> | undefined;
  /** Connections at most. Default 4. */
  maxConnections?: number | undefined;
  /**
   * An extra connection with nothing in flight for this long is closed (one always stays).
   * Default 30 s; 0 disables (as the server's `idleTimeoutMs`): connections opened under load stay.
   */
  idleTimeoutMs?: number | undefined;
  /** Retire a connection after this age (within its last 10 %, jittered): drain it and open a fresh one as needed. Default: never. */
  maxConnectionAgeMs?: number | undefined;
  /**
   * Further attempts of a call (`send`, `call`) refused before it ran by its connection: a
   * draining server's bare Closed, a connection closing or lost before the call was written. Each
   * goes on an open connection that is not draining, or waits for a fresh one, within what is
   * left of the call's timeout and while its signal has not fired; it cannot run the call twice.
   * Default 1; 0 turns it off. (A FailoverPool's own calls move to another server instead: its
   * `retries`.) A stream (`openStream`) refused so is opened again under the same rules, only
   * while the server said nothing of it (no item or credit): the items it wrote meanwhile (at
   * most its `streamWindowBytes`) are kept and written again, in order, before later ones.
   */
  transparentRetries?: number | undefined;
  /**
   * Calls allowed to wait for a connection (none up yet, or every window full); past it a call
   * fails with Overloaded. Default 10 000.
   */
  maxQueued?: number | undefined;
  /** How long calls wait while connect attempts fail before they fail with Unreachable. Default 10 s. */
  connectBudgetMs?: number | undefined;
  /** Reconnect delays: exponential with full jitter. Default 100 ms doubling up to 5 s. */
  backoff?: OptionalFields<BackoffOptions> | undefined;
  /**
   * How often the pool checks idle and old connections and waiting calls, in ms (1 ms to
   * 2^31 - 1). Default `stream.tickMs`, else 1 s. While calls with shorter timeouts wait for a
   * connection it checks more often, as a stream does (see `ClientStreamOptions.timeoutMs`).
   */
  tickMs?: number | undefined;
  clock?: Clock | undefined;
  logger?: Logger | undefined;
  /**
   * Told of every state change, with the pool's address (one callback can serve a FailoverPool's
   * pools), synchronously. It may close the pool, even from a change a call made (connecting for
   * it): that call fails Closed (`retry: 'safe'`), as one made on a closed pool.
   */
  onStateChange?: ((state: PoolState, previous: PoolState, address: string) => void) | undefined;
}

export interface ConnPoolStats {
  state: PoolState;
  /** Calls on the wire awaiting a reply, and streams open: the load least-active selection compares. */
  inFlight: number;
  /** Calls waiting: for a connection, or for room in a connection's window. */
  queued: number;
  /** Open connections, draining ones included. */
  connections: number;
}

/**
 * The clock and tick a ConnPool made with `opts` keeps its time on (its own clock, else its
 * streams', else the system's; its `tickMs`, else its streams' `streamTickMs`): one rule, which a
 * FailoverPool also reads to keep its calls' bounds on its ConnPools' time. `prefix` names the
 * option in an error (`pool.` for a FailoverPool's).
 */
export function poolTiming(opts: Pick<ConnPoolOptions, 'clock' | 'tickMs' | 'stream'>, streamTickMs: number, prefix = ''): { clock: Clock; tickMs: number } {
  return { clock: opts.clock ?? opts.stream?.clock ?? systemClock, tickMs: timerMs(opts.tickMs ?? streamTickMs, `${prefix}tickMs`) };
}
