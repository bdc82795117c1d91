import { invalidArgument, MAX_TIMER_MS, guardedLogger, silentLogger, systemClock, type Clock, type Logger, type OptionalFields } from '@skein/core';
import { positiveInteger } from '../internals/checks.js';
import { resolveLimits, type Limits } from '../wire/limits.js';
import type { Dispatch } from './dispatch.js';
import type { Authenticate } from './authenticate.js';
import type { AuthSettings } from './conn-auth.js';
import { ViolationLines } from './violation-lines.js';
import { DEFAULT_STREAM_WINDOW } from '../wire/agreed.js';
import { resolveKinds, streamBytes, type KindDefaults, type KindOptions, type KindSettings, type PeerOptions } from './conn-kind.js';
import type { ReverseSettings } from './reverse-caller.js';

export interface RpcServerOptions {
  dispatch: Dispatch;
  logger?: Logger | undefined;
  limits?: OptionalFields<Limits> | undefined;
  /**
   * Connections open at once, over all listeners. A connection past it is closed as soon as it
   * is accepted, before anything is read from it (one warn line per run of refusals). Default
   * 10 000; `Infinity` for no cap. Per remote address: `clients.maxConnectionsPerAddress`,
   * `peers.maxConnectionsPerAddress` (no top-level one: a cap over both kinds per address would
   * let strangers from a peer's address keep it out).
   */
  maxConnections?: number | undefined;
  /** Requests handled at once per connection; past it the server stops reading that socket. Default 1024. */
  maxInFlightPerConn?: number | undefined;
  /**
   * Bytes a client may send on one stream before this server has read them (its receive window,
   * told to the client in the hello's answer: the same option as ClientStream's, the other way).
   * A connection keeps the window of its kind when its hello was answered. Default 1 MiB.
   */
  streamWindowBytes?: number | undefined;
  /**
   * Bytes the client-stream items of one connection may take unread, over all its streams: a
   * stream whose handler reads items (`Dispatch.readsItems`, asked as it opens; absent, it may)
   * reserves its window as it opens (the wire gives every new stream the whole window at once),
   * and one whose window does not fit beside the others' is refused unrun with a bare
   * `rpc_overloaded` (safe to retry; a warn line, `stats().streamsRefused`); one whose handler
   * reads none reserves nothing. A stream frees its window when it is answered (or cancelled, or
   * lost), or its handler calls `ignoreItems`. Default 64 MiB, or the window if larger; at least
   * `streamWindowBytes`.
   */
  streamBudgetBytes?: number | undefined;
  /**
   * A connection that makes no call for this long is closed (pings and the hello do not count).
   * Checked on the tick, counted in ticks of at most `tickMs`: a stall of the server's own (a long
   * GC, a blocking handler) delays the close rather than closing a connection whose call waits
   * unread. Default 120 s; 0 disables.
   */
  idleTimeoutMs?: number | undefined;
  /**
   * A frame begun must be finished within this long (razor's read timeout): a peer that sends a
   * frame a byte at a time is closed, whatever else it sends. Checked on the tick, so it fires
   * up to `tickMs` late, and counted in ticks of at most `tickMs`: a stall of the server's own
   * delays it rather than closing a connection whose frame's rest waits unread. Default 5 s; 0 disables.
   */
  readTimeoutMs?: number | undefined;
  /**
   * Server keepalive (docs/protocol.md, "Server pings"): a connection the server has heard
   * nothing from for this long is pinged, if its client answers pings (a Skein client that sent
   * a hello; never a razor v1 client), and ended when the ping goes unanswered for
   * `keepaliveTimeoutMs`, as a lost connection is: its handlers' signals fire, its streams fail.
   * So a client that froze or lost its link mid-call or mid-stream holds no handler, stream slot
   * or memory for ever. A live Skein client pings after a second of silence itself, so the server
   * never needs to ping it. Checked on the tick (up to `tickMs` late). Default 60 s; 0 disables.
   *
   * With it goes the write-stall check, which needs nothing from the client (a razor v1 one
   * too): a connection with bytes waiting for its client (a full send buffer) whose kernel took
   * none of them for `keepaliveMs` + `keepaliveTimeoutMs` is ended the same way. A client frozen
   * behind a full buffer cannot be pinged, and TCP never times it out; a slow reader takes some
   * bytes, however few, and stays. Where a transport cannot tell what its kernel took
   * (FrameConn.sentBytes), that check is not made. 0 turns both off.
   */
  keepaliveMs?: number | undefined;
  /** How long a server ping may go unanswered. Default 20 s. */
  keepaliveTimeoutMs?: number | undefined;
  /** How long `close()` lets in-flight requests finish before cutting connections. Default 90 s; 0 cuts at once. */
  closeWaitMs?: number | undefined;
  /**
   * Checks the credentials a client presents after its hello (and when it renews them): returns
   * `{ principal, expiresInMs? }` or refuses (docs/auth.md). Calls on a connection are refused
   * while its credentials are with the hook, and after they expire until renewed.
   */
  authenticate?: Authenticate | undefined;
  /**
   * Refuse calls (Unauthenticated, one warn line per connection) from clients that did not
   * authenticate: razor v1 clients, and Skein clients without credentials. Default: true when
   * `authenticate` is given; true without it is a configuration mistake.
   */
  requireAuth?: boolean | undefined;
  /**
   * How long the `authenticate` hook may take over one set of credentials: past it they are
   * refused as the hook's refusal would be (Unauthenticated "authentication timed out", a warn
   * line; the first credentials' connection ends, a renewal's stays on its current grant), so a
   * hook that never settles holds no connection. It bounds probation too, with or without
   * `authenticate`: a connection let in past the clients' cap (`peers`) that is not a peer twice
   * this long after it was let in is closed. Default 5 s.
   */
  authTimeoutMs?: number | undefined;
  /**
   * Peers (other services: long-lived, trusted) on the same listeners as clients, told apart by
   * `admit` (a TLS identity, a principal, an address) and held to limits of their own; each limit
   * left out is the top-level one. Without `peers`, every connection is a client (docs/protocol.md,
   * "Peers and clients").
   */
  peers?: PeerOptions | undefined;
  /** The clients' limits (connections not admitted as peers); each left out is the top-level one. */
  clients?: KindOptions | undefined;
  /**
   * Calls from the server to a connection that offered to serve them (`ClientStream.connect({ serve })`),
   * through `req.conn.caller`: a reverse call's timeout unless its options say (default 20 s),
   * and how many may wait for that side's window (default 1024; past it: Overloaded, unrun).
   */
  reverseCalls?: { timeoutMs?: number | undefined; maxQueued?: number | undefined } | undefined;
  clock?: Clock | undefined;
  /** How often idle connections and unfinished frames are looked for. Default 1 s. */
  tickMs?: number | undefined;
}

/** An RpcServer's settings with defaults filled in, all checked. */
export interface ServerSettings {
  readonly dispatch: Dispatch;
  readonly logger: Logger;
  /**
   * The logger its listeners are given (`TransportListenOptions.logger`): the one you gave (core's
   * `silentLogger`, the default, counts as none), else none, so a transport with a logger of its own keeps its listeners' lines (a TLS refusal, a
   * certificate's expiry) rather than lose them to the server's silent default.
   */
  readonly listenLogger: Logger | undefined;
  readonly limits: Limits;
  readonly clock: Clock;
  readonly maxConnections: number;
  readonly maxInFlightPerConn: number;
  readonly idleTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly keepaliveMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly closeWaitMs: number;
  readonly tickMs: number;
  /** Set when the server authenticates its clients. */
  readonly auth: AuthSettings | undefined;
  /** Lines of connections their peers broke, bounded by time per kind (flushed at close). */
  readonly violations: ViolationLines;
  /** Each kind's limits, and what tells a peer from a client; the listener cuts frames by `kinds.listenerLimits`. */
  readonly kinds: KindSettings;
  /** How long a connection may stay on probation (conn-census.ts): twice `authTimeoutMs`. */
  readonly probationMs: number;
  readonly reverse: ReverseSettings;
}

/** Checks a server's options (a bad one throws InvalidArgument naming it) and fills in defaults. */
export function resolveServerOptions(opts: RpcServerOptions): ServerSettings {
  if (!opts || typeof opts.dispatch?.dispatch !== 'function') throw invalidArgument('RpcServer needs a dispatch');
  // A flag given where a function goes (`readsItems: false`, as `tellsHandlerEnds: true` is) would throw at every stream.
  if (opts.dispatch.readsItems !== undefined && typeof opts.dispatch.readsItems !== 'function') throw invalidArgument(`dispatch.readsItems must be a function (action) => boolean, got ${typeof opts.dispatch.readsItems}`);
  const maxConnections = opts.maxConnections ?? 10_000;
  if (maxConnections !== Infinity) positiveInteger(maxConnections, 'maxConnections');
  // Checked with or without `authenticate`: it bounds probation too.
  const authTimeoutMs = duration(opts.authTimeoutMs ?? 5_000, 'authTimeoutMs', 1);
  // Lines are written on the way to answers and closes (an auth refusal's too): one the logger cannot write must not stop those.
  const logger = guardedLogger(opts.logger ?? silentLogger);
  // One per server: its connections' violation lines are bounded by time together.
  const violations = new ViolationLines(opts.clock ?? systemClock, logger);
  const base = {
    dispatch: opts.dispatch,
    logger,
    listenLogger: opts.logger === undefined || opts.logger === silentLogger ? undefined : logger,
    limits: resolveLimits(opts.limits),
    clock: opts.clock ?? systemClock,
    maxConnections,
    maxInFlightPerConn: positiveInteger(opts.maxInFlightPerConn ?? 1024, 'maxInFlightPerConn'),
    ...topStreamBytes(opts),
    idleTimeoutMs: duration(opts.idleTimeoutMs ?? 120_000, 'idleTimeoutMs', 0),
    readTimeoutMs: duration(opts.readTimeoutMs ?? 5_000, 'readTimeoutMs', 0),
    keepaliveMs: duration(opts.keepaliveMs ?? 60_000, 'keepaliveMs', 0),
    keepaliveTimeoutMs: duration(opts.keepaliveTimeoutMs ?? 20_000, 'keepaliveTimeoutMs', 1),
    closeWaitMs: duration(opts.closeWaitMs ?? 90_000, 'closeWaitMs', 0),
    tickMs: duration(opts.tickMs ?? 1000, 'tickMs', 1),
    violations,
    auth: authSettings(opts, authTimeoutMs, logger, violations),
    // Time to present credentials (or a certificate, at the hello), and the hook's own to judge them.
    probationMs: 2 * authTimeoutMs,
  };
  return { ...base, ...kindsAndReverse(opts, base) };
}

/** The top-level stream window and budget, checked: each kind's default (a budget not given stays so, each kind's then following its own window). */
function topStreamBytes(opts: RpcServerOptions): { streamWindowBytes: number; streamBudgetBytes: number | undefined } {
  const checked = streamBytes({ value: opts.streamWindowBytes ?? DEFAULT_STREAM_WINDOW, name: 'streamWindowBytes' }, { value: opts.streamBudgetBytes, name: 'streamBudgetBytes' });
  return { streamWindowBytes: checked.streamWindowBytes, streamBudgetBytes: opts.streamBudgetBytes === undefined ? undefined : checked.streamBudgetBytes };
}

/** Each kind's limits (the top-level values are their defaults), and calls both ways. */
function kindsAndReverse(opts: RpcServerOptions, base: KindDefaults & { clock: Clock; tickMs: number }): { kinds: KindSettings; reverse: ReverseSettings } {
  const kinds = resolveKinds(opts.clients, opts.peers, base, duration);
  const r = opts.reverseCalls ?? {};
  if (typeof r !== 'object' || r === null) throw invalidArgument('reverseCalls must be an object');
  const { client, peer } = kinds;
  const reverse: ReverseSettings = {
    // What every kind reads: a connection may become a peer after its hello was answered.
    answerLimits: {
      maxMessage: Math.min(client.limits.maxMessage, peer.limits.maxMessage),
      maxBlob: Math.min(client.limits.maxBlob, peer.limits.maxBlob),
    },
    clock: base.clock,
    timeoutMs: duration(r.timeoutMs ?? 20_000, 'reverseCalls.timeoutMs', 1),
    maxQueued: positiveInteger(r.maxQueued ?? 1024, 'reverseCalls.maxQueued'),
    tickMs: base.tickMs,
  };
  return { kinds, reverse };
}

function authSettings(opts: RpcServerOptions, timeoutMs: number, logger: Logger, violations: ViolationLines): AuthSettings | undefined {
  const { authenticate, requireAuth } = opts;
  if (requireAuth !== undefined && typeof requireAuth !== 'boolean') throw invalidArgument(`requireAuth must be a boolean, got ${String(requireAuth)}`);
  if (authenticate === undefined) {
    if (requireAuth) throw invalidArgument('requireAuth needs an authenticate hook to accept credentials with');
    return undefined;
  }
  if (typeof authenticate !== 'function') throw invalidArgument('authenticate must be a function');
  return {
    authenticate,
    required: requireAuth ?? true,
    timeoutMs,
    clock: opts.clock ?? systemClock,
    logger,
    violations,
  };
}

/** Milliseconds from `min` up to what a timer can wait. */
function duration(ms: number, name: string, min: number): number {
  if (!(typeof ms === 'number' && ms >= min && ms <= MAX_TIMER_MS)) {
    throw invalidArgument(`${name} must be a number of milliseconds from ${min} to ${MAX_TIMER_MS}, got ${ms}`);
  }
  return ms;
}
