import { ErrorCode } from '@skein/core';
import { HelloError, appendEntry, type HelloEntry } from '../wire/hello.js';
import { REQ_MSG_LEN_AT, REQUEST_HEADER_LENGTH, u32 } from '../wire/protocol.js';
import { offersAuth } from '../wire/auth.js';
import { inFlightCapEntry } from '../wire/in-flight-cap.js';
import { GOODBYE_ENTRY } from '../wire/goodbye.js';
import { requestLimitsEntry } from '../wire/request-limits.js';
import type { Limits } from '../wire/limits.js';
import type { Agreed } from '../wire/agreed.js';
import { answerHello, type HelloOutcome, type ServerExtensions } from './hello-answer.js';
import type { ConnAuth } from './conn-auth.js';
import { leaveProbationAtHello, type ProbationLink } from './conn-probation.js';
import { ConnReverseHost, type ReverseLink } from './conn-reverse-host.js';
import { acceptReverseOffer, reverseAnswerEntries, type ReverseCaller, type ReverseSettings } from './reverse-caller.js';

/** What answering a hello needs of its ServerConn. */
export interface HelloLink extends ProbationLink, ReverseLink {
  /** Sent away from probation (sendAway): what it sends again is refused bare. */
  readonly sentAway: boolean;
  /** It sent a hello: it reads a bare `rpc_closed` as "leave this connection". */
  markGreeted(): void;
  /** What an earlier hello agreed, if any: a later one keeps it. */
  readonly terms: Agreed | undefined;
  /** What the hello's answer offers: its kind's stream window (the kind it is once the hello made it one; its streams start with that window). */
  readonly helloExtensions: ServerExtensions;
  /** Holds the connection to what the hello says (its limits, extensions). */
  takeTerms(outcome: HelloOutcome): void;
  /**
   * Server pings, the goodbye and reply metadata, where the hello's answer agrees them: not for a hello answered
   * with a refusal (sent away from probation), whose client would read either as a broken server's.
   */
  agreeControls(outcome: HelloOutcome): void;
  readonly auth: ConnAuth | undefined;
  /** The cap on requests handled at once that the hello's answer names (ServerConn.helloCap): past it, one is held and the connection is not read. */
  helloCap(credentialsToCome: boolean): number;
  /** The request limits its hello's answer names (ServerConn.helloLimits): past them a request is refused at its header and the connection closed. */
  helloLimits(credentialsToCome: boolean): Limits;
  /** The hello came: the server may now judge its verified identity (ServerConnOptions.onGreeted). */
  greeted(credentialsToCome: boolean): void;
  readonly reverseSettings: ReverseSettings | undefined;
  readonly caller: ReverseCaller | undefined;
  /** Calls both ways were agreed: the connection's ReverseCaller. */
  reverseAgreed(caller: ReverseCaller): void;
  /** The hello's answer, an ok response (it always fits). */
  sendAnswer(seqLo: number, seqHi: number, msg: Uint8Array): void;
}

/**
 * The hello, answered here and now like a ping: requests are read in order, so every request
 * after it is answered within the limits it gives. Apart from ServerConn because it comes once
 * per connection (or a few times), never on a call's path.
 */
export function greet(c: HelloLink, bytes: Uint8Array, start: number, seqLo: number, seqHi: number): void {
  // A hello again from one sent away: judged, counted and logged once is enough (a peer may send any number).
  if (c.sentAway) return c.writeError(seqLo, seqHi, ErrorCode.Overloaded);
  // Whatever its hello says: only a Skein client sends one, and it leaves on Closed even when
  // its hello could not be read (answered Decode, it goes on as a v1 client otherwise).
  c.markGreeted();
  const msgAt = start + REQUEST_HEADER_LENGTH;
  const msgEnd = msgAt + u32(bytes, start + REQ_MSG_LEN_AT);
  let outcome;
  const ours = c.helloExtensions;
  try {
    outcome = answerHello(bytes, msgAt, msgEnd, ours, c.terms);
  } catch (err) {
    if (!(err instanceof HelloError)) throw err;
    c.logger.debug({ remote: c.conn.remote, reason: err.message }, 'bad hello: answered Decode');
    return c.writeError(seqLo, seqHi, ErrorCode.Decode);
  }
  const offered = c.auth !== undefined && offersAuth(bytes, msgAt, msgEnd);
  c.greeted(offered);
  // Its TLS identity made it a peer just now: the answer, not sent yet, names the peers' stream
  // window (fixed on the wire once sent). Read again (it was read whole above: it cannot throw).
  if (c.helloExtensions !== ours) outcome = answerHello(bytes, msgAt, msgEnd, c.helloExtensions, c.terms);
  c.takeTerms(outcome);
  let answer = outcome.answer;
  if (!offered && c.onProbation) return leaveProbationAtHello(c, seqLo, seqHi);
  c.agreeControls(outcome);
  // After greeted(): the hello may have made it a peer (its TLS identity), of another cap.
  if (outcome.readsCap) answer = appendEntry(answer, inFlightCapEntry(c.helloCap(offered)));
  if (outcome.goodbye) answer = appendEntry(answer, GOODBYE_ENTRY);
  // With the largest frame its transport carries (max_frame), where the limits would allow more or its transport packs frames into units it bounds.
  if (outcome.readsLimits) answer = appendEntry(answer, requestLimitsEntry(c.helloLimits(offered), c.conn.maxFrameBytes, c.conn.setPeerMaxFrameBytes !== undefined));
  if (outcome.replyMetadataEntry !== undefined) answer = appendEntry(answer, outcome.replyMetadataEntry);
  if (offered) answer = c.auth!.offered(answer);
  if (outcome.peerLimits && c.reverseSettings) answer = agreeReverse(c, c.reverseSettings, bytes, msgAt, msgEnd, answer);
  c.sendAnswer(seqLo, seqHi, answer);
}

/** Calls both ways, when the hello offers to serve them: settled by the first hello that does. */
function agreeReverse(c: HelloLink, settings: ReverseSettings, bytes: Uint8Array, from: number, to: number, answer: Uint8Array): Uint8Array {
  // Agreed already: a later hello's answer names it, as it names the extensions the connection keeps.
  if (c.caller) return appendEntries(answer, reverseAnswerEntries(settings, c.caller.controls, c.caller.maxHead > 0));
  const agreed = acceptReverseOffer(new ConnReverseHost(c), settings, bytes, from, to);
  if (!agreed) return answer;
  c.reverseAgreed(agreed.caller);
  return appendEntries(answer, agreed.entries);
}

function appendEntries(answer: Uint8Array, entries: readonly HelloEntry[]): Uint8Array {
  for (const e of entries) answer = appendEntry(answer, e);
  return answer;
}
