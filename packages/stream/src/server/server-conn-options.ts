import type { Clock, Logger } from '@skein/core';
import type { Dispatch } from './dispatch.js';
import type { AuthSettings } from './conn-auth.js';
import type { ViolationLines } from './violation-lines.js';
import type { LazyAbort } from '../internals/lazy-abort.js';
import type { ActionNames } from '../wire/action-names.js';
import type { ReverseSettings } from './reverse-caller.js';
import type { Limits } from '../wire/limits.js';

/*
 * Apart from ServerConn (connection.ts), which is `Conn` here: the listener builds these once and
 * every connection reads them, and the callbacks name the connection only by a type parameter, so
 * this file imports no connection.
 */
/** What the connections of one listener share (one object for all of them, not one each). */
export interface ServerConnOptionsOf<Conn> {
  transport: string;
  dispatch: Dispatch;
  logger: Logger;
  /** Requests being handled at once before reading pauses. */
  maxInFlight: number;
  /** The peers' `maxInFlightPerConn`, when `peers.admit` may make a client a peer (by its credentials, after its hello). */
  peerMaxInFlight?: number;
  /** The peers' frame `limits`, likewise: named in the hello's answer (kind 26) to a connection its credentials may make a peer. */
  peerLimits?: Limits;
  /** The server authenticates its clients (its `authenticate` option). */
  auth?: AuthSettings;
  /** The server's lines of connections their peers broke, bounded by time per kind. */
  violations: ViolationLines;
  onClosed(conn: Conn): void;
  /** A stream on `conn` was refused unrun (Overloaded) for its connection's `streamBudgetBytes`: counted and logged by the server. */
  onStreamBudgetRefused(conn: Conn): void;
  /** The server's clock, for the deadlines calls bring. Default: the system clock. */
  clock?: Clock;
  /** Fires when the server begins to close (ConnInfo.draining): one for all its connections. */
  draining: LazyAbort;
  /**
   * The server's action names, shared by its connections: many clients call the same few
   * methods, and a table per connection was ~1 KB each and cold in the cache for a call on any
   * one of many (docs/benchmarks.md, "Many connections, a call each"). What it keeps is what
   * clients called (the server's methods, or names it refused): one connection can push another's
   * names out of their slots (a decode more for that one), and a timing could at most tell
   * whether a name was called lately, nothing secret; strings that may be (a head's metadata)
   * stay per connection (RecentStrings).
   */
  actionNames: ActionNames;
  /** Calls both ways: the server calls a connection that offered to serve (none: never agreed). */
  reverse?: ReverseSettings;
  /**
   * The connection's credentials were accepted: it may become a peer (conn-kind.ts). Returns why
   * it is sent away instead (on probation, and they do not make it a peer): the grant is not sent.
   */
  onCredentialsAccepted?(conn: Conn): string | undefined;
  /**
   * Its hello came, so a TLS handshake is done and the verified identity known: it may become
   * a peer (a transport hands a connection over before its handshake, when there is none yet).
   * `credentialsToCome`: its hello offered credentials, which may still make it one.
   */
  onGreeted?(conn: Conn, credentialsToCome: boolean): void;
}
