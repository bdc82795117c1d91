import { invalidArgument, withDefaults, type FrameSpec, type OptionalFields, type PeerIdentity } from '@skein/core';
import { helloU32, positiveInteger } from '../internals/checks.js';
import { requestFrameSpec } from '../wire/frame-specs.js';
import { resolveLimits, type Limits } from '../wire/limits.js';
import { DEFAULT_MAX_HEAD } from '../wire/call-head.js';
import type { ServerExtensions } from './hello-answer.js';
import { DEFAULT_STREAM_BUDGET } from './stream-budget.js';

/**
 * One acceptor, two kinds of connection (docs/protocol.md, "Peers and clients"): peers (other
 * services: long-lived, trusted) and clients (short-lived, untrusted), each held to limits of
 * its own. The server decides the kind, never the connection: a connection is a peer only when
 * the application's `peers.admit` says so, at accept (its address), at its hello (its TLS
 * identity: the handshake is done by then) or once its credentials are accepted (its principal). Until then it is a client, under the stricter limits.
 */
export type ConnKind = 'client' | 'peer';

/** What `peers.admit` judges a connection by. */
export interface PeerCandidate {
  readonly remote: string;
  readonly transport: string;
  /** The verified TLS client certificate's identity (mTLS). */
  readonly identity?: PeerIdentity;
  /** What the server's `authenticate` hook accepted the connection's credentials as; undefined before that. */
  readonly principal?: unknown;
}

/** The limits one kind of connection is held to. Each defaults to the server's top-level option of the same name. */
export interface KindOptions {
  /** Connections of this kind open at once (the top-level `maxConnections` still caps both together). Default: no cap of its own. */
  maxConnections?: number | undefined;
  /**
   * Connections of this kind open at once from one IP address (IPv4-mapped IPv6 counts as the
   * IPv4 address; Unix socket connections have none and are not counted). A connection past it is
   * refused at accept as one past `maxConnections` is (`rpc_overloaded:connection limit reached
   * (clients.maxConnectionsPerAddress)…`). Counted per kind: strangers from a peer's address fill
   * the clients' count, not the peers', and a connection past the clients' one that may still prove
   * it is a peer waits on probation in a peer's place of its address. Default: no cap (many
   * clients share one address behind a NAT, and every one behind a proxy does).
   */
  maxConnectionsPerAddress?: number | undefined;
  maxInFlightPerConn?: number | undefined;
  idleTimeoutMs?: number | undefined;
  readTimeoutMs?: number | undefined;
  /** Server pings (RpcServerOptions.keepaliveMs): a peer on a network that drops quiet flows may need them sooner. */
  keepaliveMs?: number | undefined;
  keepaliveTimeoutMs?: number | undefined;
  /** Frame limits for this kind's requests. */
  limits?: OptionalFields<Limits> | undefined;
  /** Its streams' receive window (RpcServerOptions.streamWindowBytes). */
  streamWindowBytes?: number | undefined;
  /** The bytes its streams' windows may add up to on one connection (RpcServerOptions.streamBudgetBytes). */
  streamBudgetBytes?: number | undefined;
}

export interface PeerOptions extends KindOptions {
  /**
   * True when the connection is a peer. Called at accept (address known; a TLS connection's
   * identity is not yet), at its hello (identity known) and when its credentials are accepted
   * (principal known). Only `true` admits; one that throws
   * admits nobody (logged). It runs on the accept path: keep it quick.
   */
  admit(conn: PeerCandidate): boolean;
}

export interface KindLimits {
  readonly kind: ConnKind;
  readonly maxConnections: number;
  /** Connections of this kind from one IP address (remote-host.ts); Infinity: no cap. */
  readonly maxConnectionsPerAddress: number;
  readonly maxInFlightPerConn: number;
  readonly idleTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** Silence after which the server pings a client that answers pings; 0: never. */
  readonly keepaliveMs: number;
  /** How long a server ping may go unanswered before the connection is ended. */
  readonly keepaliveTimeoutMs: number;
  readonly limits: Limits;
  /** Bytes a client may send on one stream before the server has read them: told in the hello's answer (kind 4), and held to by a stream opened after a connection became of this kind (ConnExtensions.admit). */
  readonly streamWindowBytes: number;
  /** The windows of a connection's streams that read items add up to at most this (stream-budget.ts). */
  readonly streamBudgetBytes: number;
  /** The option that set it, for the line of a stream refused for it: `clients.streamBudgetBytes`, or the top-level `streamBudgetBytes` it follows. */
  readonly streamBudgetOption: string;
  /** What the hello's answer offers a connection of this kind (one object per kind, not one per connection). */
  readonly extensions: ServerExtensions;
  /** Requests cut by this kind's frame limits: given to a transport that takes it (FrameConn.setFrameSpec), it refuses an oversized header as it arrives. */
  readonly spec: FrameSpec;
  /**
   * For a transport that does not take `spec`: `spec` again, when this kind's frame limits are
   * narrower than the listener's (which cuts frames at the wider of the two kinds), for the
   * connection to check each whole request's header by (`check.bodyLength(bytes, at)`, called as
   * the spec's method), throwing the FrameError that closes the connection, with the same answer
   * a listener gives. Undefined: nothing to check.
   */
  readonly check: FrameSpec | undefined;
}

/** Both kinds' limits, and the rule that tells them apart (none: every connection is a client). */
export interface KindSettings {
  readonly client: KindLimits;
  readonly peer: KindLimits;
  readonly admit: ((conn: PeerCandidate) => boolean) | undefined;
  /** What the listener cuts frames by: each field the larger of the two kinds'. */
  readonly listenerLimits: Limits;
}

/** The top-level values, already checked: each kind's default. */
export interface KindDefaults {
  readonly maxInFlightPerConn: number;
  readonly idleTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly keepaliveMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly limits: Limits;
  readonly streamWindowBytes: number;
  /** Undefined when not given: each kind's is then the larger of DEFAULT_STREAM_BUDGET and its window. */
  readonly streamBudgetBytes: number | undefined;
}

type Duration = (ms: number, name: string, min: number) => number;

export function resolveKinds(
  clients: KindOptions | undefined,
  peers: PeerOptions | undefined,
  defaults: KindDefaults,
  duration: Duration,
): KindSettings {
  if (peers !== undefined && typeof peers?.admit !== 'function') {
    throw invalidArgument('peers.admit must be a function that tells a peer from a client (by identity, principal or address)');
  }
  const c = kindValues('client', clients, defaults, duration);
  const p = kindValues('peer', peers, defaults, duration);
  const listenerLimits: Limits = {
    maxMessage: Math.max(c.limits.maxMessage, p.limits.maxMessage),
    maxBlob: Math.max(c.limits.maxBlob, p.limits.maxBlob),
    maxAction: Math.max(c.limits.maxAction, p.limits.maxAction),
  };
  return { client: withCheck(c, listenerLimits), peer: withCheck(p, listenerLimits), admit: peers?.admit, listenerLimits };
}

function kindValues(kind: ConnKind, o: KindOptions | undefined, d: KindDefaults, duration: Duration): Omit<KindLimits, 'check' | 'spec' | 'extensions'> {
  const at = kind === 'client' ? 'clients' : 'peers';
  if (o !== undefined && (o === null || typeof o !== 'object')) throw invalidArgument(`${at} must be an object of limits`);
  const maxConnections = o?.maxConnections ?? Infinity;
  if (maxConnections !== Infinity) positiveInteger(maxConnections, `${at}.maxConnections`);
  const maxConnectionsPerAddress = o?.maxConnectionsPerAddress ?? Infinity;
  if (maxConnectionsPerAddress !== Infinity) positiveInteger(maxConnectionsPerAddress, `${at}.maxConnectionsPerAddress`);
  let limits = d.limits;
  if (o?.limits !== undefined) {
    try {
      // A field given as undefined follows the top-level limit, as one left out does (spread over it, it was refused).
      limits = resolveLimits(withDefaults(d.limits, o.limits));
    } catch (err) {
      throw invalidArgument(`${at}.${(err as Error).message}`);
    }
  }
  return {
    kind,
    maxConnections,
    maxConnectionsPerAddress,
    maxInFlightPerConn: positiveInteger(o?.maxInFlightPerConn ?? d.maxInFlightPerConn, `${at}.maxInFlightPerConn`),
    idleTimeoutMs: duration(o?.idleTimeoutMs ?? d.idleTimeoutMs, `${at}.idleTimeoutMs`, 0),
    readTimeoutMs: duration(o?.readTimeoutMs ?? d.readTimeoutMs, `${at}.readTimeoutMs`, 0),
    keepaliveMs: duration(o?.keepaliveMs ?? d.keepaliveMs, `${at}.keepaliveMs`, 0),
    keepaliveTimeoutMs: duration(o?.keepaliveTimeoutMs ?? d.keepaliveTimeoutMs, `${at}.keepaliveTimeoutMs`, 1),
    limits,
    ...streamBytes(
      { value: o?.streamWindowBytes ?? d.streamWindowBytes, name: o?.streamWindowBytes !== undefined ? `${at}.streamWindowBytes` : 'streamWindowBytes' },
      { value: o?.streamBudgetBytes ?? d.streamBudgetBytes, name: o?.streamBudgetBytes !== undefined ? `${at}.streamBudgetBytes` : 'streamBudgetBytes' },
    ),
  };
}

/**
 * A stream window and budget, checked, each with the name of the option the user set it by (a
 * kind's, or the top-level one it follows): a budget under the window would refuse every stream
 * that reads items. A budget not given is the larger of the default and the window.
 */
export function streamBytes(
  window: { value: number; name: string },
  budget: { value: number | undefined; name: string },
): { streamWindowBytes: number; streamBudgetBytes: number; streamBudgetOption: string } {
  const streamWindowBytes = helloU32(window.value, window.name);
  const streamBudgetOption = budget.name;
  if (budget.value === undefined) return { streamWindowBytes, streamBudgetBytes: Math.max(DEFAULT_STREAM_BUDGET, streamWindowBytes), streamBudgetOption };
  const streamBudgetBytes = positiveInteger(budget.value, budget.name);
  if (streamBudgetBytes < streamWindowBytes) {
    throw invalidArgument(`${budget.name} (${streamBudgetBytes}) must be at least ${window.name} (${streamWindowBytes}): no stream that reads items could open`);
  }
  return { streamWindowBytes, streamBudgetBytes, streamBudgetOption };
}

function withCheck(k: Omit<KindLimits, 'check' | 'spec' | 'extensions'>, listener: Limits): KindLimits {
  const l = k.limits;
  const narrower = l.maxMessage < listener.maxMessage || l.maxBlob < listener.maxBlob || l.maxAction < listener.maxAction;
  // The same checks, and answers, as the listener's frame spec: written once, in frame-specs.ts.
  const spec = requestFrameSpec(l);
  const extensions: ServerExtensions = { maxHead: DEFAULT_MAX_HEAD, streamWindowBytes: k.streamWindowBytes };
  return { ...k, spec, check: narrower ? spec : undefined, extensions };
}
