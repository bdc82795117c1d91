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
export const NO_METADATA: Metadata = Object.freeze({});

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

const REMAINING = 4;
const MAX_KEY = 0xff;
const MAX_VALUE = 0xffff;

/** A head that does not parse, or is over its bound: the call it heads is refused. */
export class CallHeadError extends Error {
  override readonly name = 'CallHeadError';
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The encoded head: `remaining_ms u32`, then per entry `key_len u8 | key | value_len u16 | value`. */
export function encodeCallHead(remainingMs: number | undefined, metadata: Metadata | undefined): Uint8Array {
  const parts: Uint8Array[] = [];
  let length = REMAINING;
  if (metadata) {
    for (const key of Object.keys(metadata)) {
      const value = metadata[key];
      if (typeof value !== 'string') throw new CallHeadError(`metadata ${key}: value must be a string`);
      const k = utf8.encode(key);
      const v = utf8.encode(value);
      if (k.length === 0 || k.length > MAX_KEY) throw new CallHeadError(`metadata key of ${k.length} bytes: keys are 1..${MAX_KEY} bytes`);
      if (v.length > MAX_VALUE) throw new CallHeadError(`metadata ${key}: value of ${v.length} bytes exceeds ${MAX_VALUE}`);
      parts.push(k, v);
      length += 3 + k.length + v.length;
    }
  }
  const out = new Uint8Array(length);
  putU32(out, 0, wireRemaining(remainingMs));
  let at = REMAINING;
  for (let i = 0; i < parts.length; i += 2) {
    const k = parts[i]!;
    const v = parts[i + 1]!;
    out[at] = k.length;
    out.set(k, at + 1);
    at += 1 + k.length;
    out[at] = v.length;
    out[at + 1] = v.length >>> 8;
    out.set(v, at + 2);
    at += 2 + v.length;
  }
  return out;
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
