import { EMPTY_BYTES } from '@skein/core';
import { HelloKind, HelloRole, decodeHello, findEntry, type HelloEntry } from './hello.js';
import { writeResponseHeaderHalves, type ResponseFlag } from './protocol.js';
import { REVERSE_CALL_FLAG } from './reverse-calls.js';
import { HEADED_REVERSE_CALL_FLAG } from './reverse-heads.js';

/**
 * Reverse deadlines and cancels (docs/protocol.md, "Calls both ways"): what a forward call's head
 * and cancel frame do, the other way. Agreed only with calls both ways (wire/reverse-calls.ts),
 * by a connecting side that offers this kind too, so an older Skein client (and a razor v1 peer,
 * which agrees nothing) is never sent either frame: it reads both as unknown flags and closes.
 *
 * - hello kind REVERSE_CONTROL_KIND, empty both ways. Offer: the connecting side reads the two
 *   frames below. Answer: the server sends them (only beside its answer entry of calls both ways).
 * - A reverse call with a deadline (server → connecting side) is a response frame with flag
 *   TIMED_REVERSE_CALL_FLAG, laid out as a reverse call (REVERSE_CALL_FLAG) whose msg starts with
 *   `remaining_ms u32`: the ms the server still waits, as it sent the call (rounded up; 0: passed
 *   already, the call is answered Timeout unrun; NO_DEADLINE: none), then `action u32 | action
 *   string | msg` as in a reverse call. The connecting side's deadline is its arrival plus that.
 * - A reverse cancel (server → connecting side) is a response frame with flag
 *   REVERSE_CANCEL_FLAG, the reverse call's seq and no body: the server gave up on the call (its
 *   caller's signal, its timeout) and freed its window slot; the handler's signal aborts
 *   (Cancelled) and no answer is sent. One for a seq not running is ignored.
 */
export const REVERSE_CONTROL_KIND = HelloKind.ReverseControl;

/** A response flag no v1 frame uses (reverse calls are 0x18, server pings 0x19). */
export const TIMED_REVERSE_CALL_FLAG = 0x1a;

/** A response flag no v1 frame uses: the server gave up on a reverse call. */
export const REVERSE_CANCEL_FLAG = 0x1b;

/** The `remaining_ms` field in front of a timed reverse call's action. */
export const REMAINING_FIELD = 4;

/** The entry, offer and answer alike. */
export const REVERSE_CONTROL_ENTRY: HelloEntry = { kind: REVERSE_CONTROL_KIND, value: EMPTY_BYTES };

/** Whether the hello offer at `b[from, to)` (parsed already: a broken one never gets here) says the side reads deadlines and cancels. */
export function offersReverseControl(b: Uint8Array, from: number, to: number): boolean {
  const hello = decodeHello(b, from, to);
  return hello.role === HelloRole.Offer && findEntry(hello, REVERSE_CONTROL_KIND) !== undefined;
}

/** The cancel frame of reverse call `seq` (a response header, 20 bytes), written into `frame`. */
export function writeReverseCancel(frame: Uint8Array, seq: number): Uint8Array {
  writeResponseHeaderHalves(frame, REVERSE_CANCEL_FLAG as number as ResponseFlag, 0, seq >>> 0, Math.floor(seq / 0x1_0000_0000), 0);
  return frame;
}

/** A frame a serving side's reverse dispatch reads: a reverse call, timed, headed or neither, or a cancel (each checked there against what was agreed). */
export function isReverseFrame(flag: number): boolean {
  return flag === REVERSE_CALL_FLAG || flag === TIMED_REVERSE_CALL_FLAG || flag === HEADED_REVERSE_CALL_FLAG || flag === REVERSE_CANCEL_FLAG;
}
