import type { CircuitState, ConnPoolStats, PoolState, RpcServerStats, ServerState, ServerStats } from '@skein/stream';
import { addressLabel } from './address-label.js';

/** Anything with an RpcServer's `stats()`. */
export interface ServerStatsSource {
  stats(): RpcServerStats;
}

/** A ConnPool (one server, its `address`) or a FailoverPool (one entry per server). */
export interface PoolStatsSource {
  stats(): ConnPoolStats | ServerStats[];
  readonly address?: string | undefined;
}

/** Servers and pools by name. Read at every scrape or collection: entries added later are seen. */
export interface StatsSources {
  /** By name: the `server` label (attribute). */
  servers?: Readonly<Record<string, ServerStatsSource>> | undefined;
  /**
   * By name: the `pool` label; each server (a ConnPool's one, a FailoverPool's each) also gets
   * its `address`, as shown (`addressLabel`: a ws:// URL's query, a token perhaps, replaced by a digest).
   */
  pools?: Readonly<Record<string, PoolStatsSource>> | undefined;
}

/**
 * One metric read from `stats()`. Named the OpenTelemetry way; its Prometheus name is the one an
 * OpenTelemetry Prometheus exporter would give it (dots to underscores, `_total` on a counter),
 * so both ways of exporting show the same series.
 */
export interface StatsFamily {
  readonly name: string;
  readonly prometheusName: string;
  readonly type: 'gauge' | 'counter';
  readonly help: string;
}

export type Labels = Readonly<Record<string, string>>;

/** Told each sample of one reading, in family order per source. */
export type PutSample = (family: StatsFamily, labels: Labels, value: number) => void;

const family = (name: string, type: StatsFamily['type'], help: string): StatsFamily =>
  Object.freeze({ name, prometheusName: name.replace(/\./g, '_') + (type === 'counter' ? '_total' : ''), type, help });

const SERVER = {
  listeners: family('skein.server.listeners', 'gauge', 'Listeners accepting connections.'),
  connections: family('skein.server.connections', 'gauge', 'Connections open.'),
  clients: family('skein.server.clients', 'gauge', 'Open connections that are clients (not admitted as peers).'),
  peers: family('skein.server.peers', 'gauge', 'Open connections admitted as peers.'),
  inFlight: family('skein.server.in_flight', 'gauge', 'Requests dispatched and not answered yet.'),
  paused: family('skein.server.paused_connections', 'gauge', 'Connections not being read: a request came past maxInFlightPerConn, or the send buffer is full.'),
  accepted: family('skein.server.accepted_connections', 'counter', 'Connections accepted since the server started.'),
  refused: family('skein.server.refused_connections', 'counter', 'Connections refused at maxConnections since the server started.'),
  streamsRefused: family('skein.server.refused_streams', 'counter', "Streams refused unrun (Overloaded) since the server started: their window did not fit their connection's streamBudgetBytes."),
  state: family('skein.server.state', 'gauge', 'The server state (1 for the current one).'),
};

const POOL = {
  inFlight: family('skein.pool.in_flight', 'gauge', 'Calls on the wire awaiting a reply.'),
  queued: family('skein.pool.queued', 'gauge', 'Calls waiting for a connection or for room in a window.'),
  connections: family('skein.pool.connections', 'gauge', 'Open connections, draining ones included.'),
  state: family('skein.pool.state', 'gauge', 'The connection pool state (1 for the current one).'),
  healthy: family('skein.pool.server.healthy', 'gauge', '1 while the FailoverPool counts the server healthy.'),
  weight: family('skein.pool.server.weight', 'gauge', "The server's weight in the FailoverPool."),
  ejected: family('skein.pool.server.ejected', 'gauge', '1 while the server is out of rotation as an outlier.'),
  circuit: family('skein.pool.server.circuit', 'gauge', "The server's circuit breaker state (1 for the current one)."),
};

/** Every family a reading can give, for exporters that declare their instruments up front. */
export const STATS_FAMILIES: readonly StatsFamily[] = Object.freeze([...Object.values(SERVER), ...Object.values(POOL)]);

const SERVER_STATES: readonly ServerState[] = ['running', 'closing', 'closed'];
const POOL_STATES: readonly PoolState[] = ['idle', 'connecting', 'ready', 'backoff', 'closed'];
const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half-open'];

/**
 * Reads `stats()` of every source once and tells `put` each sample. States become one sample
 * per state (1 for the current one), as Prometheus models enums. A closed server or pool (a
 * FailoverPool's server whose pool is closed) gives none: it is gone for good, and a series
 * reported on would show it, stale, for as long as the sources name it.
 */
export function readStats(sources: StatsSources, put: PutSample): void {
  for (const [name, server] of Object.entries(sources.servers ?? {})) {
    const stats = server.stats();
    if (stats.state !== 'closed') serverSamples(put, { server: name }, stats);
  }
  for (const [name, pool] of Object.entries(sources.pools ?? {})) {
    const stats = pool.stats();
    if (Array.isArray(stats)) {
      for (const s of stats) if (s.state !== 'closed') poolSamples(put, { pool: name, address: addressLabel(s.address) }, s);
    } else if (stats.state !== 'closed') poolSamples(put, { pool: name, address: addressLabel(pool.address ?? '') }, stats);
  }
}

function serverSamples(put: PutSample, labels: Labels, s: RpcServerStats): void {
  put(SERVER.listeners, labels, s.listeners);
  put(SERVER.connections, labels, s.connections);
  put(SERVER.clients, labels, s.clients);
  put(SERVER.peers, labels, s.peers);
  put(SERVER.inFlight, labels, s.inFlight);
  put(SERVER.paused, labels, s.paused);
  put(SERVER.accepted, labels, s.accepted);
  put(SERVER.refused, labels, s.refused);
  put(SERVER.streamsRefused, labels, s.streamsRefused);
  oneHot(put, SERVER.state, labels, SERVER_STATES, s.state);
}

function poolSamples(put: PutSample, labels: Labels, s: ConnPoolStats | ServerStats): void {
  put(POOL.inFlight, labels, s.inFlight);
  put(POOL.queued, labels, s.queued);
  put(POOL.connections, labels, s.connections);
  oneHot(put, POOL.state, labels, POOL_STATES, s.state);
  if (!('healthy' in s)) return;
  put(POOL.healthy, labels, s.healthy ? 1 : 0);
  put(POOL.weight, labels, s.weight);
  put(POOL.ejected, labels, s.ejected ? 1 : 0);
  oneHot(put, POOL.circuit, labels, CIRCUIT_STATES, s.circuit);
}

function oneHot(put: PutSample, f: StatsFamily, labels: Labels, states: readonly string[], current: string): void {
  for (const state of states) put(f, { ...labels, state }, state === current ? 1 : 0);
}
