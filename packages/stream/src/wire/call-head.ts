import { ChunkWriter } from '@skein/core';
import { putU32, u32 } from './protocol.js';

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
 * inheriting nothing (a key like "constructor" finds no function), on the shared map.
 */
export function metadataRecord(entries: Readonly<Record<string, string>>): Metadata {
  const record = Object.create(METADATA_PROTO) as Record<string, string>;
  for (const key of Object.keys(entries)) record[key] = entries[key]!;
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
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The encoded head: `remaining_ms u32`, then per entry `key_len u8 | key | value_len u16 | value`.
 * Written straight into a view of a shared chunk (core's ChunkWriter, as the codecs' messages):
 * ASCII strings (keys, tokens, trace contexts: nearly every entry) byte by byte, others through
 * the TextEncoder. A TextEncoder buffer per string and a Uint8Array of its own per head (V8 gives
 * one over 64 bytes memory outside its heap) cost ~4 µs for a call with two entries, on every call
 * that carries a trace context (docs/benchmarks.md, "A call head's cost").
 */
export function encodeCallHead(remainingMs: number | undefined, metadata: Metadata | undefined): Uint8Array {
  const head = measureHead(metadata);
  const inChunk = heads.write(remainingMs, head);
  if (inChunk !== null) return inChunk;
  const own = new Uint8Array(head.length);
  writeHead(own, 0, remainingMs, head);
  return own;
}

/** A head measured: its length, its entries' keys, and each string's byte length or, when it is not ASCII, its bytes. */
interface MeasuredHead {
  readonly length: number;
  readonly keys: readonly string[];
  /** Each entry's value as read once, here: a getter or a Proxy read again may give another string than the one measured. */
  readonly values: readonly string[];
  /** Per entry, key then value. */
  readonly sizes: readonly (number | Uint8Array)[];
}

const NO_KEYS: readonly string[] = [];

/** Checks every entry (before a byte is written) and measures the head. */
function measureHead(metadata: Metadata | undefined): MeasuredHead {
  const keys = metadata === undefined ? NO_KEYS : Object.keys(metadata);
  const sizes: (number | Uint8Array)[] = [];
  const values: string[] = [];
  let length = REMAINING;
  for (const key of keys) {
    const value = metadata![key];
    if (typeof value !== 'string') throw new CallHeadError(`metadata ${key}: value must be a string`);
    const k = utf8Size(key);
    const v = utf8Size(value);
    const kLen = byteLength(k);
    const vLen = byteLength(v);
    if (kLen === 0 || kLen > MAX_KEY) throw new CallHeadError(`metadata key of ${kLen} bytes: keys are 1..${MAX_KEY} bytes`);
    if (vLen > MAX_VALUE) throw new CallHeadError(`metadata ${key}: value of ${vLen} bytes exceeds ${MAX_VALUE}`);
    sizes.push(k, v);
    values.push(value);
    length += 3 + kLen + vLen;
  }
  return { length, keys, values, sizes };
}

/** Writes the measured head at `at` of `out` (room made): its caller makes the view (ChunkWriter's, or the array itself). */
function writeHead(out: Uint8Array, at: number, remainingMs: number | undefined, head: MeasuredHead): void {
  putU32(out, at, wireRemaining(remainingMs));
  at += REMAINING;
  const { keys, values, sizes } = head;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const k = sizes[2 * i]!;
    const v = sizes[2 * i + 1]!;
    out[at] = byteLength(k);
    at = putString(out, at + 1, key, k);
    const vLen = byteLength(v);
    out[at] = vLen;
    out[at + 1] = vLen >>> 8;
    at = putString(out, at + 2, values[i]!, v);
  }
}

/** The heads' chunks: each head a view, never written over (a call keeps its head until it is sent). */
class HeadWriter extends ChunkWriter {
  private remainingMs: number | undefined;
  private head: MeasuredHead | undefined;

  /** The head in a chunk, or null when it is too long for one (then it gets its own memory). */
  write(remainingMs: number | undefined, head: MeasuredHead): Uint8Array | null {
    this.remainingMs = remainingMs;
    this.head = head;
    return this.encode(null);
  }

  protected writeMessage(): boolean {
    const head = this.head!;
    if (!this.room(head.length)) return false;
    writeHead(this.bytes, this.pos, this.remainingMs, head);
    this.pos += head.length;
    return true;
  }

  protected override messageDone(): void {
    this.head = undefined;
  }
}

const heads = new HeadWriter();

const byteLength = (size: number | Uint8Array): number => (typeof size === 'number' ? size : size.length);

/** `s`'s length when it is all ASCII (its UTF-8 bytes are its chars), else its UTF-8 bytes. */
function utf8Size(s: string): number | Uint8Array {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return utf8.encode(s);
  return s.length;
}

/** Writes `s` at `at` (ASCII byte by byte, else the bytes utf8Size made); returns where it ends. */
function putString(out: Uint8Array, at: number, s: string, size: number | Uint8Array): number {
  if (typeof size !== 'number') {
    out.set(size, at);
    return at + size.length;
  }
  for (let i = 0; i < size; i++) out[at + i] = s.charCodeAt(i);
  return at + size;
}

/** Remaining time as sent: whole ms, rounded up (a call is never told it has less than it has), capped below NO_DEADLINE. */
export function wireRemaining(remainingMs: number | undefined): number {
  if (remainingMs === undefined) return NO_DEADLINE;
  return Math.min(Math.max(0, Math.ceil(remainingMs)), NO_DEADLINE - 1);
}

/** Reads the head at `b[from, to)`. Throws CallHeadError when it is cut short or not UTF-8. */
export function decodeCallHead(b: Uint8Array, from: number, to: number): CallHead {
  if (to - from < REMAINING) throw new CallHeadError(`call head of ${to - from} bytes is shorter than ${REMAINING}`);
  const raw = u32(b, from);
  let metadata: Record<string, string> | undefined;
  for (let at = from + REMAINING; at < to; ) {
    const keyEnd = at + 1 + b[at]!;
    if (keyEnd + 2 > to) throw new CallHeadError('call head entry cut short');
    const valueEnd = keyEnd + 2 + (b[keyEnd]! | (b[keyEnd + 1]! << 8));
    if (valueEnd > to || keyEnd === at + 1) throw new CallHeadError('call head entry cut short or with an empty key');
    let key: string;
    let value: string;
    try {
      key = strictUtf8.decode(b.subarray(at + 1, keyEnd));
      value = strictUtf8.decode(b.subarray(keyEnd + 2, valueEnd));
    } catch {
      throw new CallHeadError('call head entry is not UTF-8');
    }
    // A record that inherits nothing: keys like "__proto__" must stay data.
    metadata ??= Object.create(METADATA_PROTO) as Record<string, string>;
    metadata[key] = value;
    at = valueEnd;
  }
  return { remainingMs: raw === NO_DEADLINE ? undefined : raw, metadata: metadata ? Object.freeze(metadata) : NO_METADATA };
}
