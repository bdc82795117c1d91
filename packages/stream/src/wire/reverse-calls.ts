import { HelloRole, HelloKind, decodeHello, findEntry, type HelloEntry } from './hello.js';
import { putU32, u32 } from './protocol.js';

/**
 * Calls both ways on one connection (docs/protocol.md, "Calls both ways"): the side that
 * connected offers to serve calls, the server may then call it over the same connection. Nothing
 * of it goes to a peer that did not agree it in the hello, so a razor v1 peer never sees it.
 *
 * - hello kind REVERSE_KIND. Offer: `window u32`, the calls the connecting side runs at once for
 *   the server. Answer: `max_message u32 | max_blob u32`, the largest reverse answer the server reads.
 * - A reverse call (server → connecting side) is a response frame with flag REVERSE_CALL_FLAG:
 *   the header's seq is the reverse call's own (counted by the server from 1, a sequence apart
 *   from the connecting side's), its msg is `action u32 | action string | msg` (`action` as in a
 *   request header: bit 31 set, the string's byte length), its blob is the call's blob.
 * - A reverse answer (connecting side → server) is a request with the numeric action
 *   REVERSE_ANSWER_ACTION and the reverse call's seq; its msg is `flag u8` then what a response
 *   body holds for that flag (0: the reply's msg, with its blob in the request's blob; 1: the
 *   error number u32; 2: the error string).
 */
export const REVERSE_KIND = HelloKind.ReverseCalls;

/** A response flag no v1 frame uses: a peer that did not offer to serve closes on it. */
export const REVERSE_CALL_FLAG = 0x18;

export const REVERSE_ANSWER_ACTION = 0x7fff_ff18;

/** The action field in front of a reverse call's action string and msg. */
export const REVERSE_ACTION_FIELD = 4;

/** The flag byte in front of a reverse answer's body. */
export const ANSWER_FLAG_FIELD = 1;

/** The most reverse calls a server keeps in flight on one connection, whatever window is offered. */
export const MAX_REVERSE_WINDOW = 65_536;

export function reverseOfferEntry(window: number): HelloEntry {
  const value = new Uint8Array(4);
  putU32(value, 0, window);
  return { kind: REVERSE_KIND, value };
}

export function reverseAnswerEntry(maxMessage: number, maxBlob: number): HelloEntry {
  const value = new Uint8Array(8);
  putU32(value, 0, maxMessage);
  putU32(value, 4, maxBlob);
  return { kind: REVERSE_KIND, value };
}

/**
 * The window a hello offer at `b[from, to)` gives for reverse calls, capped at MAX_REVERSE_WINDOW;
 * 0 when it offers none (or offers a window of 0, which could never carry a call). The caller has
 * parsed the offer already (a broken one never gets here).
 */
export function offeredReverseWindow(b: Uint8Array, from: number, to: number): number {
  const hello = decodeHello(b, from, to);
  if (hello.role !== HelloRole.Offer) return 0;
  const value = findEntry(hello, REVERSE_KIND);
  if (value === undefined || value.length < 4) return 0;
  return Math.min(u32(value, 0), MAX_REVERSE_WINDOW);
}

/** The server's limits on reverse answers, from its answer entry; undefined when it did not agree. */
export function readReverseAnswer(value: Uint8Array | undefined): { maxMessage: number; maxBlob: number } | undefined {
  if (value === undefined || value.length < 8) return undefined;
  return { maxMessage: u32(value, 0), maxBlob: u32(value, 4) };
}
