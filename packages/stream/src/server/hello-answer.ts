import {
  HELLO_VERSION,
  HelloKind,
  HelloRole,
  decodeHello,
  encodeHello,
  findEntry,
  readReceiveLimits,
  receiveLimitsEntry,
} from '../wire/hello.js';
import { replyLimits, type ReplyLimits } from '../wire/limits.js';

/** What the server makes of a client's hello. */
export interface HelloOutcome {
  /** The limits to check this connection's replies against, when the client told them. */
  readonly peerLimits: ReplyLimits | undefined;
  /** The answer's msg: the part of the offer the server accepts. */
  readonly answer: Uint8Array;
}

/** Accepts nothing: an offer of a version we cannot read, or of nothing we speak. */
const NOTHING: HelloOutcome = { peerLimits: undefined, answer: encodeHello(HelloRole.Answer, []) };

/**
 * Answers the hello msg at `b[from, to)`. Throws HelloError when it does not parse; the caller
 * answers that with Decode, and the connection stays plain v1.
 */
export function answerHello(b: Uint8Array, from: number, to: number): HelloOutcome {
  const hello = decodeHello(b, from, to);
  if (hello.version !== HELLO_VERSION || hello.role !== HelloRole.Offer) return NOTHING;
  const value = findEntry(hello, HelloKind.ReceiveLimits);
  if (value === undefined) return NOTHING;
  const asked = readReceiveLimits(value);
  const peerLimits = replyLimits(asked.maxMessage, asked.maxBlob);
  // The answer repeats the limits as the server applies them (capped at the wire's ceilings).
  return { peerLimits, answer: encodeHello(HelloRole.Answer, [receiveLimitsEntry(peerLimits.maxMessage, peerLimits.maxBlob)]) };
}
