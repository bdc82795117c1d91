import { ChunkWriter, MAX_CHUNK_MESSAGE_BYTES, utf8Length } from '@skein/core';
import { putU32, u32 } from './protocol.js';
import type { RecentStrings } from './recent-strings.js';
import { strictUtf8 } from './strict-utf8.js';

/**
 * Small key/value entries that travel with a call: a bearer token, a trace context. Keys and
 * values are strings; a server reads them as sent.
 */
export type Metadata = Readonly<Record<string, string>>;

/** What a call head carries (docs/protocol.md, "Call head"). */
export interface CallHead {
  /** Time left when the client sent the call, in ms; undefined: no deadline. */
  readonly remainingMs: number | undefined;
  readonly metadata: Metadata;
}

/** `remaining_ms` of a head without a deadline. */
export const NO_DEADLINE = 0xffff_ffff;
/** The largest head a server reads by default (the hello's answer tells the client). */
export const DEFAULT_MAX_HEAD = 8 * 1024;
/**
 * The prototype of a call's metadata record: empty, frozen, itself without a prototype, so a
 * record inherits nothing (keys like "__proto__" or "constructor" stay data), as on
 * `Object.create(null)`. Not `Object.create(null)` itself: V8 keeps such an object as a
 * dictionary, and freezing a dictionary gives it a map of its own, so each call's record had a
 * map of its own and every read of it (`ctx.metadata.authorization`, in a filter or a handler)
 * missed V8's caches and went to its runtime (docs/benchmarks.md, "Metadata in a map of its
 * own"). On this prototype a record is a fast object, sharing its map with the records of the
 * same keys; one with very many entries still turns into a dictionary, which V8 decides.
 */
const METADATA_PROTO: object = Object.freeze(Object.create(null) as object);

/** The metadata of a call that came without any: a record like the others, inheriting nothing. */
export const NO_METADATA: Metadata = Object.freeze(Object.create(METADATA_PROTO) as Metadata);

/**
 * For library authors (a dispatch that hands calls on, as @skein/workers does to its threads): a
 * call's metadata record made of `entries`' own string entries, as a server reads one: frozen,
 * inheriting nothing (a key like "constructor" finds no function), on the shared map; none (or
 * undefined) is the shared empty record.
 */
export function metadataRecord(entries: Readonly<Record<string, string>> | undefined): Metadata {
  // No entries: the one empty record every call without metadata has (frozen, as each would be).
  if (entries === undefined) return NO_METADATA;
  const keys = Object.keys(entries);
  if (keys.length === 0) return NO_METADATA;
  const record = Object.create(METADATA_PROTO) as Record<string, string>;
  for (const key of keys) record[key] = entries[key]!;
  return Object.freeze(record);
}

const REMAINING = 4;
const MAX_KEY = 0xff;
const MAX_VALUE = 0xffff;

/** A head that does not parse, or is over its bound: the call it heads is refused. */
export class CallHeadError extends Error {
  override readonly name = 'CallHeadError';
}

const utf8 = new TextEncoder();

/**
 * The encoded head: `remaining_ms u32`, then per entry `key_len u8 | key | value_len u16 | value`.
 * Written straight into a view of a shared chunk (core's ChunkWriter, as the codecs' messages),
 * in one pass: each string goes in byte by byte while it is ASCII (keys, tokens, trace contexts:
 * nearly every entry), through the TextEncoder when it is not, and its length is filled in
 * behind it. A TextEncoder buffer per string and a Uint8Array of its own per head (V8 gives one
 * over 64 bytes memory outside its heap) cost ~4 µs for a call with two entries, on every call
 * that carries a trace context (docs/benchmarks.md, "A call head's cost"); measuring every entry
 * before writing it, into arrays made per call, ~0.2 µs more ("Metadata read again").
 */
export function encodeCallHead(remainingMs: number | undefined, metadata: Metadata | undefined): Uint8Array {
  return heads.write(remainingMs, metadata) ?? new HeadWriter().write(remainingMs, metadata)!;
}

/**
 * The heads' chunks: each head a view, never written over (a call keeps its head until it is
 * sent). One that needs more room than a chunk takes gets memory of its own (see `room`).
 */
class HeadWriter extends ChunkWriter {
  private remainingMs: number | undefined;
  private metadata: Metadata | undefined;

  /**
   * The head, or null while another is written here (a getter of the metadata that makes a call
   * of its own): then it gets a writer of its own.
   */
  write(remainingMs: number | undefined, metadata: Metadata | undefined): Uint8Array | null {
    this.remainingMs = remainingMs;
    this.metadata = metadata;
    return this.encode(null);
  }

  /**
   * Checks each entry as it writes it: one that cannot be sent throws, and the bytes written of
   * the head so far are never handed out (the next head is written over them). Each value is
   * read once, so a getter or a Proxy cannot give a string other than the one written.
   */
  protected writeMessage(): boolean {
    if (!this.room(REMAINING)) return false;
    putU32(this.bytes, this.pos, wireRemaining(this.remainingMs));
    this.pos += REMAINING;
    const metadata = this.metadata;
    if (metadata === undefined) return true;
    for (const key of Object.keys(metadata)) {
      const value = metadata[key];
      if (typeof value !== 'string') throw new CallHeadError(`metadata ${key}: value must be a string`);
      // UTF-8 takes at least a byte per UTF-16 unit: more units than the bound has bytes cannot be
      // sent, refused before room is made for them (room for 720M units, at three bytes a unit, was
      // past a typed array's longest: a RangeError instead of this error).
      if (key.length > MAX_KEY || value.length > MAX_VALUE) throw overBound(key, value);
      // UTF-8 takes at most three bytes per UTF-16 unit.
      if (!this.room(3 + 3 * (key.length + value.length))) return false;
      const out = this.bytes;
      const keyAt = this.pos;
      const valueAt = putUtf8(out, keyAt + 1, key);
      const kLen = valueAt - keyAt - 1;
      if (kLen === 0 || kLen > MAX_KEY) throw badKey(kLen);
      out[keyAt] = kLen;
      const end = putUtf8(out, valueAt + 2, value);
      const vLen = end - valueAt - 2;
      if (vLen > MAX_VALUE) throw longValue(key, vLen);
      out[valueAt] = vLen;
      out[valueAt + 1] = vLen >>> 8;
      this.pos = end;
    }
    return true;
  }

  /**
   * Room in a chunk or, for a head that needs more than the 64 KiB a chunk takes (room is made at
   * three bytes a UTF-16 unit: a value of 22,000 characters is enough; a server reads 8 KiB by
   * default, one that agreed more may get more), in memory of its own that the head so far moves
   * to. Never given up on: written again elsewhere, the head would read its getters again.
   */
  protected override room(size: number): boolean {
    if (super.room(size)) return true;
    const bytes = new Uint8Array(2 * (this.pos - this.start + size));
    bytes.set(this.bytes.subarray(this.start, this.pos));
    this.pos -= this.start;
    this.start = 0;
    this.use(bytes);
    return true;
  }

  protected override messageDone(): void {
    this.metadata = undefined;
    // Memory of a head's own stays its own (or, the head refused, goes): the next one begins a chunk.
    if (this.bytes.length > MAX_CHUNK_MESSAGE_BYTES) {
      this.use(NO_BYTES);
      this.start = this.pos = 0;
    }
  }

  private use(bytes: Uint8Array<ArrayBuffer>): void {
    this.bytes = bytes;
    this.buffer = bytes.buffer;
    this.view = new DataView(this.buffer);
  }
}

const NO_BYTES = new Uint8Array(0);

const heads = new HeadWriter();

const badKey = (kLen: number) => new CallHeadError(`metadata key of ${kLen} bytes: keys are 1..${MAX_KEY} bytes`);
const longValue = (key: string, vLen: number) => new CallHeadError(`metadata ${key}: value of ${vLen} bytes exceeds ${MAX_VALUE}`);

/** The error of an entry surely over its bounds, its bytes counted, not written: its key's first, as writing finds them. */
function overBound(key: string, value: string): CallHeadError {
  const kLen = utf8Length(key);
  return kLen === 0 || kLen > MAX_KEY ? badKey(kLen) : longValue(key, utf8Length(value));
}

/** Writes `s` as UTF-8 at `at` (room made for three bytes a unit); returns where it ends. */
function putUtf8(out: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return at + utf8.encodeInto(s, out.subarray(at, at + 3 * s.length)).written;
    out[at + i] = c;
  }
  return at + s.length;
}

/** Remaining time as sent: whole ms, rounded up (a call is never told it has less than it has), capped below NO_DEADLINE. */
export function wireRemaining(remainingMs: number | undefined): number {
  if (remainingMs === undefined) return NO_DEADLINE;
  return Math.min(Math.max(0, Math.ceil(remainingMs)), NO_DEADLINE - 1);
}

/**
 * Reads the head at `b[from, to)`. Throws CallHeadError when it is cut short or not UTF-8.
 * `recent`: the strings of the connection's last head, compared before anything is decoded
 * (a server's connection keeps one; without it every string is decoded).
 */
export function decodeCallHead(b: Uint8Array, from: number, to: number, recent?: RecentStrings): CallHead {
  if (to - from < REMAINING) throw new CallHeadError(`call head of ${to - from} bytes is shorter than ${REMAINING}`);
  const raw = u32(b, from);
  let metadata: Record<string, string> | undefined;
  let place = 0;
  try {
    for (let at = from + REMAINING; at < to; place += 2) {
      const keyEnd = at + 1 + b[at]!;
      if (keyEnd + 2 > to) throw new CallHeadError('call head entry cut short');
      const valueEnd = keyEnd + 2 + (b[keyEnd]! | (b[keyEnd + 1]! << 8));
      if (valueEnd > to || keyEnd === at + 1) throw new CallHeadError('call head entry cut short or with an empty key');
      let key: string;
      let value: string;
      try {
        key = recent === undefined ? strictUtf8.decode(b.subarray(at + 1, keyEnd)) : recent.read(b, at + 1, keyEnd, place);
        value = recent === undefined ? strictUtf8.decode(b.subarray(keyEnd + 2, valueEnd)) : recent.read(b, keyEnd + 2, valueEnd, place + 1);
      } catch {
        throw new CallHeadError('call head entry is not UTF-8');
      }
      // A record that inherits nothing: keys like "__proto__" must stay data.
      metadata ??= Object.create(METADATA_PROTO) as Record<string, string>;
      metadata[key] = value;
      at = valueEnd;
    }
  } finally {
    // Read or refused: the strings kept are this head's alone (one head's worth, never more).
    recent?.headEnded(place);
  }
  return { remainingMs: raw === NO_DEADLINE ? undefined : raw, metadata: metadata ? Object.freeze(metadata) : NO_METADATA };
}
