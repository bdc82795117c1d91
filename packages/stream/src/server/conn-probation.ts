import { ErrorCode, type FrameConn, type Logger } from '@skein/core';
import { probationRefusals } from './probation-refusals.js';
import type { ConnRole } from './conn-census.js';

/** What a connection's probation needs of its ServerConn. */
export interface ProbationLink {
  readonly conn: FrameConn;
  readonly logger: Logger;
  /** The server authenticates its clients: credentials could have made it a peer. */
  readonly authenticates: boolean;
  readonly onProbation: boolean;
  /** Its role: on probation, the clients' cap it was let in past (ConnRole.past) names the option in its refusal. */
  readonly role: ConnRole | undefined;
  readonly draining: boolean;
  readonly closed: boolean;
  writeError(seqLo: number, seqHi: number, code: ErrorCode, detail?: string): void;
  /** Told why once: what it sends again is refused bare, unjudged, unlogged. */
  markSentAway(): void;
  startDrain(awaitPeer: boolean): void;
}

/*
 * A connection on probation (past the clients' cap, admitted pending credentials or a
 * certificate that make it a peer; conn-kind.ts) that shows it is no peer: how it is told, and
 * how it leaves. Functions of the ServerConn, not an object per connection: only one on
 * probation ever comes here, and an idle connection keeps no field for it.
 */

/**
 * A call on probation: refused unrun (bare Overloaded: it may go to another server), and the
 * connection leaves. Not ended at once: calls the client sent after it, before it read the
 * refusal, may be on their way, and one lost with the connection may have run for all the
 * client knows. It drains as at its hello (leaveProbationAtHello): each answered the same way.
 */
export function refuseOnProbation(c: ProbationLink, seqLo: number, seqHi: number): void {
  c.writeError(seqLo, seqHi, ErrorCode.Overloaded);
  if (c.draining) return;
  c.logger.info({ remote: c.conn.remote }, 'clients at their cap: a connection admitted pending credentials made a call; ending it');
  c.startDrain(true);
}

/**
 * Its hello offered no credentials, and its address or certificate (onGreeted) did not make it
 * a peer: nothing it may send now can, as credentials go only where the hello offered them (a
 * Skein client sends none otherwise). Held on, it would keep a peer's place for twice
 * authTimeoutMs while an ordinary client past the cap waits for nothing (one that only serves
 * reverse calls never calls, so no refused call ends it). Its hello is answered with why
 * (sendAway), in place of the terms it would have agreed.
 */
export function leaveProbationAtHello(c: ProbationLink, seqLo: number, seqHi: number): void {
  c.logger.info({ remote: c.conn.remote }, 'clients at their cap: a connection on probation offered no credentials in its hello, so it cannot become a peer; ending it');
  // Without `authenticate`, credentials could not have helped: the words do not send the user after them.
  const words = probationRefusals(c.role?.past);
  sendAway(c, seqLo, seqHi, c.authenticates ? words.hello : words.certificate);
}

/**
 * Ends a connection on probation that showed it is no peer, answering the request that showed
 * it (its hello, or its credentials) with why: `rpc_overloaded:<why>`, which a Skein client
 * gives its user (the connect fails with it, or the stream closes with it), so that its
 * configuration can be fixed; a bare close said nothing. Not ended at once: a Skein client
 * sends plain calls without waiting for the hello's answer, and one still on its way would be
 * lost with the connection (a lost call may have run). It drains as the server's close drains
 * any (startDrain): it ends after a tick with nothing read or when the peer ends, and a call
 * read meanwhile is answered bare Overloaded, unrun, as on probation (refuseOnProbation).
 */
export function sendAway(c: ProbationLink, seqLo: number, seqHi: number, why: string): void {
  c.markSentAway();
  c.writeError(seqLo, seqHi, ErrorCode.Overloaded, why);
  // Draining already (the server closes): it ends as that drain says.
  if (!c.draining && !c.closed) c.startDrain(true);
}

/**
 * Still on probation twice authTimeoutMs after it began (no hello, no credentials, none judged
 * in time, or ended and held half-open by the peer): closed at once, as a peer that keeps its
 * side open must not keep the place.
 */
export function probationTimedOut(c: ProbationLink): void {
  if (!c.onProbation || c.closed) return;
  c.logger.info({ remote: c.conn.remote }, 'clients at their cap: a connection admitted pending its verdict is still not a peer after twice authTimeoutMs; closing it');
  c.conn.close();
}
