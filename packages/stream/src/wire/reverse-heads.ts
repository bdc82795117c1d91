import { EMPTY_BYTES } from '@skein/core';
import { HelloKind, HelloRole, decodeHello, findEntry, u32Entry, type HelloEntry } from './hello.js';
import { u32 } from './protocol.js';

/**
 * Reverse call heads (docs/protocol.md, "Calls both ways"): metadata on a server's reverse call,
 * read by the connecting side's handler as a server's handler reads a forward call's. A kind of
 * its own rather than a field added to kind 22's empty value: that would be readable by older
 * peers too (a reader ignores bytes past the fields it knows), but kind 22's answer is empty, so
 * a server could not say that it agreed the field, and the connecting side could not tell a
 * headed frame from a server that agreed it from one that did not. A kind says both, one entry
 * one meaning, as forward heads (kind 3) are apart from cancels (kind 2).
 *
 * - hello kind REVERSE_HEADS_KIND, offered beside kinds 20 and 22 (a head carries a deadline, and
 *   a call that carries one is cancelled as a timed one). Offer: `max_head u32`, the largest head
 *   the connecting side reads, counted as a server counts a forward head's (wire/head-size.ts);
 *   0 offers none. Answer: empty, the server sends headed reverse calls. Agreed only with kind 22.
 * - A headed reverse call (server → connecting side) is a response frame with flag
 *   HEADED_REVERSE_CALL_FLAG, laid out as a timed one (TIMED_REVERSE_CALL_FLAG) but with a whole
 *   call head in front instead of `remaining_ms` alone: `head_len u32 | head | action u32 |
 *   action string | msg`, where head is a forward call head's msg byte for byte (`remaining_ms
 *   u32 | entries`), its blob the call's blob. Sent only for a call with metadata: one without
 *   goes as a timed call, as before.
 */
export const REVERSE_HEADS_KIND = HelloKind.ReverseHeads;

/** A response flag no v1 frame uses (reverse calls are 0x18, pings 0x19, timed calls 0x1A, cancels 0x1B). */
export const HEADED_REVERSE_CALL_FLAG = 0x1c;

/** The `head_len u32` in front of a headed reverse call's head. */
export const HEAD_LEN_FIELD = 4;

/** The connecting side's offer: it reads heads of up to `maxHead` (counted with their entries). */
export function reverseHeadsOfferEntry(maxHead: number): HelloEntry {
  return u32Entry(REVERSE_HEADS_KIND, maxHead);
}

/** The server's answer: it sends headed reverse calls. */
export const REVERSE_HEADS_ANSWER_ENTRY: HelloEntry = { kind: REVERSE_HEADS_KIND, value: EMPTY_BYTES };

/**
 * The largest head the hello offer at `b[from, to)` says its side reads; 0 when it offers none
 * (or offers 0, which no head fits). The caller has parsed the offer already.
 */
export function offeredReverseMaxHead(b: Uint8Array, from: number, to: number): number {
  const hello = decodeHello(b, from, to);
  if (hello.role !== HelloRole.Offer) return 0;
  const value = findEntry(hello, REVERSE_HEADS_KIND);
  return value === undefined || value.length < 4 ? 0 : u32(value, 0);
}
