import { invalidArgument } from '@skein/core';
import { putU32, u32 } from './protocol.js';

/**
 * The hello's msg (docs/protocol.md, "Extensions"): what a Skein client speaks, sent as the
 * reserved numeric action HELLO_ACTION, and the server's answer, the part it accepts. No codec:
 * the stream layer has none, and the hello must be readable before any is agreed.
 *
 *   version u8 | role u8 | entries, until the end of the msg: kind u16 | length u16 | value
 *
 * Integers little-endian. A reader skips kinds it does not know (their length says how far) and
 * bytes past the fields it knows at the end of a value, so later extensions add kinds and fields
 * without a new version. A new version is for a new layout: a reader that does not know it takes
 * the hello as offering nothing.
 */
export const HELLO_VERSION = 1;

/**
 * The hello's seq. A call's seqs start at 1, so seq 0 is free: call seqs stay as razor's, and a
 * client knows the answer from its seq alone.
 */
export const HELLO_SEQ = 0;

export const enum HelloRole {
  /** From the client: what it speaks. */
  Offer = 0,
  /** From the server: what it accepts. An echo of the offer (a peer that echoes any action) is no answer. */
  Answer = 1,
}

/** Entry kinds. 0 is never used; 2..9 are cancel, call heads and streams (the rest, docs/protocol.md). */
export const enum HelloKind {
  /** Value: max_message u32 | max_blob u32, the largest reply parts the client reads. */
  ReceiveLimits = 1,
  /** Cancel frames. Value: empty, both ways. */
  Cancel = 2,
  /** Call heads (deadline and metadata). Offer: empty. Answer: max_head u32, the largest head the server reads. */
  CallHead = 3,
  /** Streams. Value, both ways: window u32, the credit in bytes each new stream starts with towards the sender of the entry. */
  Streams = 4,
  /**
   * Auth. Offer: empty, the client has credentials to present. Answer: empty, the server
   * authenticates: present them (with AUTH_ACTION, wire/auth.ts).
   */
  Auth = 10,
  /**
   * Calls both ways (wire/reverse-calls.ts). Offer: window u32, the calls the connecting side
   * runs at once for the server. Answer: max_message u32 | max_blob u32, what the server reads in a reverse answer.
   */
  ReverseCalls = 20,
  /** Server pings (wire/server-pings.ts). Offer: empty, the client answers them. Answer: empty, the server reads the answers. */
  ServerPings = 21,
  /**
   * Reverse deadlines and cancels (wire/reverse-control.ts), with ReverseCalls only. Offer: empty,
   * the connecting side reads them. Answer: empty, the server sends them.
   */
  ReverseControl = 22,
  /**
   * Reverse call heads (wire/reverse-heads.ts), with ReverseCalls and ReverseControl only. Offer:
   * max_head u32, the largest head the connecting side reads. Answer: empty, the server sends them.
   */
  ReverseHeads = 23,
  /**
   * The server's cap on calls it handles at once per connection (wire/in-flight-cap.ts). Offer:
   * empty, the client keeps its window within it. Answer: max_in_flight u32.
   */
  InFlightCap = 24,
  /**
   * A draining server's goodbye (wire/goodbye.ts). Offer: empty, the client reads it. Answer:
   * empty, the server sends it as it ends a draining connection with nothing of it running.
   */
  Goodbye = 25,
  /**
   * The server's request limits (wire/request-limits.ts). Offer: empty, the client refuses a
   * request over them unsent. Answer: max_message u32 | max_blob u32 | max_action u32.
   */
  RequestLimits = 26,
  /**
   * Reply metadata (wire/reply-metadata.ts). Offer: empty, the client reads reply heads. Answer:
   * empty, the server sends them.
   */
  ReplyMetadata = 27,
}

export interface HelloEntry {
  readonly kind: number;
  readonly value: Uint8Array;
}

export interface Hello {
  readonly version: number;
  readonly role: number;
  /** In wire order; empty when the version is not ours (we cannot read its entries). */
  readonly entries: readonly HelloEntry[];
}

/** A received hello's limits as numbers. */
export interface ReceiveLimits {
  readonly maxMessage: number;
  readonly maxBlob: number;
  /** The largest whole reply frame (header included) the client's transport carries; left out when the offer names none. */
  readonly maxFrame?: number;
}

/** A hello msg that does not parse: the server answers it with Decode. */
export class HelloError extends Error {
  override readonly name = 'HelloError';
}

/**
 * The most entries a hello is read with: a kind has one entry (the last counts), and kinds in use
 * number a few dozen. Without a bound a hello of maxMessage bytes of empty entries would be
 * decoded into an object and a view per 4 bytes received (16 MiB: 4 million of them, about
 * 600 MB of heap and a second of the event loop, on every hello).
 */
export const MAX_HELLO_ENTRIES = 256;

const PREAMBLE = 2;
const ENTRY_HEADER = 4;
const MAX_VALUE = 0xffff;
const LIMITS_VALUE = 8;
/** With max_frame. */
const FRAME_LIMITS_VALUE = 12;

export function encodeHello(role: HelloRole, entries: readonly HelloEntry[]): Uint8Array {
  let length = PREAMBLE;
  for (const e of entries) {
    if (e.value.length > MAX_VALUE) throw invalidArgument(`hello entry ${e.kind} of ${e.value.length} bytes exceeds ${MAX_VALUE}`);
    length += ENTRY_HEADER + e.value.length;
  }
  const out = new Uint8Array(length);
  out[0] = HELLO_VERSION;
  out[1] = role;
  let at = PREAMBLE;
  for (const e of entries) {
    putU16(out, at, e.kind);
    putU16(out, at + 2, e.value.length);
    out.set(e.value, at + ENTRY_HEADER);
    at += ENTRY_HEADER + e.value.length;
  }
  return out;
}

/** Reads the hello msg at `b[from, to)`. Throws HelloError when it is cut short or has over MAX_HELLO_ENTRIES entries. Values are views of `b`. */
export function decodeHello(b: Uint8Array, from: number, to: number): Hello {
  if (to - from < PREAMBLE) throw new HelloError(`hello of ${to - from} bytes is shorter than its ${PREAMBLE}-byte preamble`);
  const version = b[from]!;
  const role = b[from + 1]!;
  if (version !== HELLO_VERSION) return { version, role, entries: [] };
  const entries: HelloEntry[] = [];
  for (let at = from + PREAMBLE; at < to; ) {
    if (to - at < ENTRY_HEADER) throw new HelloError(`hello entry header cut short at byte ${at - from}`);
    const kind = u16(b, at);
    const length = u16(b, at + 2);
    const valueAt = at + ENTRY_HEADER;
    if (valueAt + length > to) throw new HelloError(`hello entry ${kind} of ${length} bytes runs past the end`);
    if (entries.length === MAX_HELLO_ENTRIES) throw new HelloError(`hello of more than ${MAX_HELLO_ENTRIES} entries`);
    entries.push({ kind, value: b.subarray(valueAt, valueAt + length) });
    at = valueAt + length;
  }
  return { version, role, entries };
}

/** The value of the last entry of `kind`, if any: a kind sent twice counts once, the last time. */
export function findEntry(hello: Hello, kind: number): Uint8Array | undefined {
  let value: Uint8Array | undefined;
  for (const e of hello.entries) if (e.kind === kind) value = e.value;
  return value;
}

/**
 * Kind 1's value: `max_message u32 | max_blob u32`, then `max_frame u32` only when given (a
 * client names the largest reply frame its transport carries where that binds: client/hello.ts).
 * A server from before max_frame reads the first two fields and ignores the rest, as it always did.
 */
export function receiveLimitsEntry(maxMessage: number, maxBlob: number, maxFrame?: number): HelloEntry {
  const value = new Uint8Array(maxFrame === undefined ? LIMITS_VALUE : FRAME_LIMITS_VALUE);
  putU32(value, 0, maxMessage);
  putU32(value, 4, maxBlob);
  if (maxFrame !== undefined) putU32(value, 8, Math.min(maxFrame, 0xffff_ffff));
  return { kind: HelloKind.ReceiveLimits, value };
}

/** A ReceiveLimits value as numbers, max_frame when it holds one. Throws HelloError when it is too short to hold both limits. */
export function readReceiveLimits(value: Uint8Array): ReceiveLimits {
  if (value.length < LIMITS_VALUE) throw new HelloError(`receive limits of ${value.length} bytes, expected ${LIMITS_VALUE}`);
  const limits = { maxMessage: u32(value, 0), maxBlob: u32(value, 4) };
  return value.length < FRAME_LIMITS_VALUE ? limits : { ...limits, maxFrame: u32(value, 8) };
}

/** An entry whose value is one u32 (or nothing, for `n` undefined). */
export function u32Entry(kind: number, n?: number): HelloEntry {
  if (n === undefined) return { kind, value: new Uint8Array(0) };
  const value = new Uint8Array(4);
  putU32(value, 0, n);
  return { kind, value };
}

/** A u32 value. Throws HelloError when it is too short. */
export function readU32Value(kind: number, value: Uint8Array): number {
  if (value.length < 4) throw new HelloError(`hello entry ${kind} of ${value.length} bytes, expected 4`);
  return u32(value, 0);
}

/** `msg` (an encoded hello) with `entry` added at the end: entries run to the end of the msg. */
export function appendEntry(msg: Uint8Array, entry: HelloEntry): Uint8Array {
  if (entry.value.length > MAX_VALUE) throw invalidArgument(`hello entry ${entry.kind} of ${entry.value.length} bytes exceeds ${MAX_VALUE}`);
  const out = new Uint8Array(msg.length + ENTRY_HEADER + entry.value.length);
  out.set(msg);
  putU16(out, msg.length, entry.kind);
  putU16(out, msg.length + 2, entry.value.length);
  out.set(entry.value, msg.length + ENTRY_HEADER);
  return out;
}

function u16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

function putU16(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
}
