import { DecodeError } from '@msgpack/msgpack';
import { MIN_COUNTED_TEXT, overBudget } from './container-budget.js';
import { keyCache as keys, MAX_KEY_BYTES } from './key-cache.js';
import type { LibraryValues } from './library-values.js';
import { DEFAULT_MAX_MAP_KEYS, tooManyKeys } from './map-keys.js';
import { TEXT_DECODER_THRESHOLD, textDecoder, utf8DecodeJs } from './library-utf8.js';
import { joinWords } from './safe-integers.js';
import { COPIED_BINARY_BYTES } from './small-binaries.js';

/**
 * What the fast decoder returns, read alone (no LibraryValues given), for a message it does not
 * read to the end: an extension type, a map key that is not a string, `__proto__`, nesting
 * deeper than MAX_DEPTH or maxDepth, anything malformed or truncated, trailing bytes. Given the
 * codec's LibraryValues, it hands each such value (not the message) to the library decoder and
 * reads on after it, so no byte is read twice and values and errors are the library's own.
 */
export const NOT_HANDLED: unique symbol = Symbol('msgpack: not handled by the fast decoder');
type Result = unknown;

/** Deeper containers are left to the library, whatever the codec's maxDepth. */
const MAX_DEPTH = 32;
/** At most 32 nested arrays of this many slots (8 bytes each) made up front: 256 KiB. */
const PREALLOCATED = 1024;
/** Longer ASCII strings are read with TextDecoder, which costs more to call than to run. */
const SHORT_STRING = 24;
/**
 * V8 copies a join of under 13 characters into a flat string, but a longer join makes a cons
 * string (an object pointing at both parts) per character, all kept alive by the result until
 * it is flattened: a 16 MiB message of 645 Ki 24-byte strings made 7.7 million of them and took
 * 1.9–2.2 s of CPU. In a message longer than JOIN_BYTES, a string longer than FLAT_JOIN is made
 * by one fromCharCode call instead (that message: 0.5 s). Shorter messages hold too few strings
 * for it to matter, and joining is faster for one string: fromCharCode for every string made
 * decoding the benchmark's small message (a 14-character method name) 10 % slower.
 */
const FLAT_JOIN = 12;
const JOIN_BYTES = 64 * 1024;
/** The character codes of a string read by hand in one fromCharCode call, reused. */
const units: number[] = [];
/**
 * V8 keeps typed arrays of up to 64 bytes on its own heap, and the first view made of one
 * (a subarray for TextDecoder) moves it off first: in such a message, strings are joined here.
 */
const ON_HEAP_BYTES = 64;
const EMPTY: Uint8Array = new Uint8Array(0);

// The message being read. No application code runs during a decode (no getter, setter or
// extension), so there is only ever one at a time, whatever the number of codecs.
let bytes = EMPTY;
let pos = 0;
let end = 0;
/**
 * Arrays, maps, byte strings and new strings the message may still make (maxContainers; see
 * container-budget.ts for what counts); below 0, it made one too many.
 */
let containersLeft = 0;
/** Map keys the message may still hold (maxMapKeys; see map-keys.ts), counted at map headers; below 0, one map too many. */
let mapKeysLeft = 0;
let maxContainers = 0;
let maxMapKeys = 0;
/** The `deeper` of the message itself: a value read with `deeper` is inside `top - deeper` containers. */
let top = 0;
/** The codec's library decoder, for the values the fast path does not read; none: NOT_HANDLED. */
let library: LibraryValues | undefined;
/** `library` once it has read a value of the message, and so holds it until done(). */
let lent: LibraryValues | undefined;
// Browsers' TextDecoder refuses a view of shared memory, where the library's loop would read it.
// Looked at only when a string needs it (see ON_HEAP_BYTES).
let plainMemory: boolean | undefined;

// Floats are copied here to be read: a DataView of each message would cost more than the value.
const floatBytes = new Uint8Array(8);
const floatView = new DataView(floatBytes.buffer);

/**
 * Reads the one msgpack value `input` holds as the library (set up by library-coders.ts with
 * the same `maxDepth`) reads it, with plain index arithmetic, and hands `values` (the codec's
 * library decoder) each value it does not read itself. Without `values`, returns NOT_HANDLED
 * for a message it cannot read alone.
 */
export function fastDecode(input: Uint8Array, maxDepth: number, containers: number, mapKeys = DEFAULT_MAX_MAP_KEYS, values?: LibraryValues): Result {
  bytes = input;
  pos = 0;
  end = input.length;
  // Each container takes a byte at least, so a message has no more than its length: the count
  // stays a small integer (Infinity would box a number at every decrement).
  containersLeft = Math.min(containers, end);
  mapKeysLeft = mapKeys;
  maxContainers = containers;
  maxMapKeys = mapKeys;
  plainMemory = undefined;
  library = values;
  // The message is at level 1, and a container's values one level below it: containers at
  // maxDepth - 1 levels below the message, or MAX_DEPTH, are left to the library, which reads
  // them or refuses them by maxDepth.
  top = Math.min(MAX_DEPTH, maxDepth - 1);
  // Each throw goes through refuse(), which lets go of the message first: no try/finally to
  // set up for every message.
  let value = read(top);
  if (value === NOT_HANDLED) value = handed(0, top);
  const complete = pos === end;
  done();
  if (complete || value === NOT_HANDLED) return value;
  if (values === undefined) return NOT_HANDLED;
  throw new RangeError(`Extra ${end - pos} of ${end} byte(s) found at buffer[${pos}]`); // the library's words
}

/** Holds on to no message after its decode, nor does the library decoder. */
function done(): void {
  bytes = EMPTY;
  library = undefined;
  if (lent !== undefined) {
    lent.release();
    lent = undefined;
  }
}

/** `error`, once the message is let go of: what each throw of the fast path throws. */
function refuse(error: Error): Error {
  done();
  return error;
}

const containersOver = (): Error => refuse(overBudget(maxContainers));
const keysOver = (): Error => refuse(tooManyKeys(maxMapKeys));

/**
 * The value at `start`, which read() did not read (its counts left as they were before it),
 * read by the library with the message's counts, which go on from what it counted; or
 * NOT_HANDLED when the fast path reads alone.
 */
function handed(start: number, deeper: number): Result {
  if (library === undefined) return NOT_HANDLED;
  lent = library;
  let value: unknown;
  try {
    value = library.read(bytes, start, containersLeft, mapKeysLeft, top - deeper);
  } catch (e) {
    throw refuse(e as Error);
  }
  containersLeft = library.containersLeft;
  mapKeysLeft = library.mapKeysLeft;
  pos = library.end;
  return value;
}

/** `deeper`: how many more levels of non-empty containers, from this value down, the fast path reads. */
function read(deeper: number): Result {
  if (pos >= end) return NOT_HANDLED;
  const head = bytes[pos++]!;
  if (head < 0x80) return head;
  if (head >= 0xe0) return head - 0x100;
  if (head < 0x90) return readMap(head - 0x80, deeper);
  if (head < 0xa0) return readArray(head - 0x90, deeper);
  if (head < 0xc0) return readString(head - 0xa0);
  switch (head) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return pos + 1 <= end ? readBinary(bytes[pos++]!) : NOT_HANDLED;
    case 0xc5:
      return pos + 2 <= end ? readBinary(u16()) : NOT_HANDLED;
    case 0xc6:
      return pos + 4 <= end ? readBinary(u32()) : NOT_HANDLED;
    case 0xca:
      return pos + 4 <= end ? f32() : NOT_HANDLED;
    case 0xcb:
      return pos + 8 <= end ? f64() : NOT_HANDLED;
    case 0xcc:
      return pos + 1 <= end ? bytes[pos++]! : NOT_HANDLED;
    case 0xcd:
      return pos + 2 <= end ? u16() : NOT_HANDLED;
    case 0xce:
      return pos + 4 <= end ? u32() : NOT_HANDLED;
    case 0xcf:
      return pos + 8 <= end ? joinWords(u32(), u32()) : NOT_HANDLED;
    case 0xd0:
      return pos + 1 <= end ? (bytes[pos++]! << 24) >> 24 : NOT_HANDLED;
    case 0xd1:
      return pos + 2 <= end ? (u16() << 16) >> 16 : NOT_HANDLED;
    case 0xd2:
      return pos + 4 <= end ? i32() : NOT_HANDLED;
    case 0xd3:
      return pos + 8 <= end ? joinWords(i32(), u32()) : NOT_HANDLED;
    case 0xd9:
      return pos + 1 <= end ? readString(bytes[pos++]!) : NOT_HANDLED;
    case 0xda:
      return pos + 2 <= end ? readString(u16()) : NOT_HANDLED;
    case 0xdb:
      return pos + 4 <= end ? readString(u32()) : NOT_HANDLED;
    case 0xdc:
      return pos + 2 <= end ? readArray(u16(), deeper) : NOT_HANDLED;
    case 0xdd:
      return pos + 4 <= end ? readArray(u32(), deeper) : NOT_HANDLED;
    case 0xde:
      return pos + 2 <= end ? readMap(u16(), deeper) : NOT_HANDLED;
    case 0xdf:
      return pos + 4 <= end ? readMap(u32(), deeper) : NOT_HANDLED;
    default:
      return NOT_HANDLED; // 0xc1 and the extension types
  }
}

function readArray(size: number, deeper: number): Result {
  // Empty ones count too: a message of them is the most objects per byte.
  if (--containersLeft < 0) throw containersOver();
  if (size === 0) return [];
  // Every item takes a byte at least: a longer claim is truncated, and the library says so.
  if (deeper <= 0 || size > end - pos) return unread(0);
  // Made no longer than PREALLOCATED items, longer ones grown as items arrive: each of 32
  // nested headers may claim the whole rest of the message, and memory must follow the bytes.
  const array = new Array<unknown>(Math.min(size, PREALLOCATED));
  for (let i = 0; i < size; i++) {
    const start = pos;
    let item = read(deeper - 1);
    if (item === NOT_HANDLED && (item = handed(start, deeper - 1)) === NOT_HANDLED) return NOT_HANDLED;
    array[i] = item;
  }
  return array;
}

/**
 * NOT_HANDLED for an array or a map (of `keys` keys) the fast path counted but does not read:
 * uncounted, since the library reads it from its header and counts it again.
 */
function unread(keys: number): typeof NOT_HANDLED {
  containersLeft++;
  mapKeysLeft += keys;
  return NOT_HANDLED;
}

function readMap(size: number, deeper: number): Result {
  if (--containersLeft < 0) throw containersOver();
  if (size === 0) return {};
  // Refused at its header, as the library refuses it (map-keys.ts), before a key is read.
  if ((mapKeysLeft -= size) < 0) throw keysOver();
  if (deeper <= 0 || size * 2 > end - pos) return unread(size);
  const map: Record<string, unknown> = {};
  for (let i = 0; i < size; i++) {
    const keyStart = pos;
    let key: string | number | null = readKey();
    if ((key === null || key === '__proto__') && (key = otherKey(key, keyStart, deeper - 1)) === null) return NOT_HANDLED;
    const start = pos;
    let value = read(deeper - 1);
    if (value === NOT_HANDLED && (value = handed(start, deeper - 1)) === NOT_HANDLED) return NOT_HANDLED;
    map[key] = value;
  }
  return map;
}

/**
 * For a key readKey did not read (null) or `__proto__`, the key as the library reads it: read as
 * a value, a number kept (a property named by it), `__proto__` and anything else but a string
 * refused in the library's words; or null when the fast path reads alone. (Out of readMap, as
 * unread() is, to keep it small enough for V8 to inline: with both in it, a 7-byte message
 * took 79 ns of CPU to decode where the codec before took 71, medians of 15 alternated rounds.)
 */
function otherKey(got: string | null, start: number, deeper: number): string | number | null {
  if (library === undefined) return null;
  let key: unknown = got;
  if (key === null) {
    pos = start;
    key = read(deeper);
    if (key === NOT_HANDLED) key = handed(start, deeper);
  }
  if (key === '__proto__') throw refuse(new DecodeError('The key __proto__ is not allowed'));
  if (typeof key !== 'string' && typeof key !== 'number') throw refuse(new DecodeError(`The type of key must be string or number but ${typeof key}`));
  return key;
}

/** A string key, or null for any other key (otherKey() reads it) and a truncated header or long key. */
function readKey(): string | null {
  if (pos >= end) return null;
  const head = bytes[pos++]!;
  let length: number;
  if (head >= 0xa0 && head < 0xc0) length = head - 0xa0;
  else if (head === 0xd9 && pos + 1 <= end) length = bytes[pos++]!;
  else if (head === 0xda && pos + 2 <= end) length = u16();
  else if (head === 0xdb && pos + 4 <= end) length = u32();
  else return null;
  if (length === 0 || length > MAX_KEY_BYTES) {
    const key = readString(length);
    return key === NOT_HANDLED ? null : (key as string);
  }
  // Cut short: the library refuses it before counting it, as a key (the library handed it
  // alone, outside its map, would count it first, and refuse a message at maxContainers in
  // other words). Longer keys it counts first in both places: read() hands them on.
  if (length > end - pos) {
    if (library === undefined) return null;
    throw refuse(new RangeError('Insufficient data')); // the library's words
  }
  const misses = keys.misses;
  // A key the cache does not keep (one cut short inside a UTF-8 sequence) is read here all the
  // same, as the library's keyDecoder reads it: read again by otherKey(), it counted twice.
  const key = keys.read(bytes, pos, length) ?? utf8DecodeJs(bytes, pos, length);
  pos += length;
  // A key the cache read anew is a new string; a key it held costs nothing, and is not counted.
  if (keys.misses !== misses && --containersLeft < 0) throw containersOver();
  return key;
}

function readString(length: number): Result {
  // The empty string and 1-byte ones (one Latin-1 character) are V8's own, made once: not counted.
  if (length > end - pos) return NOT_HANDLED;
  if (length >= MIN_COUNTED_TEXT && --containersLeft < 0) throw containersOver();
  const start = pos;
  pos += length;
  if (length > TEXT_DECODER_THRESHOLD) return textDecoder.decode(bytes.subarray(start, pos));
  return readAscii(start, length) ?? utf8DecodeJs(bytes, start, length);
}

/**
 * The string if its bytes are all ASCII, which every way of reading UTF-8 reads alike, else
 * null. Short ones are joined here; for longer ones TextDecoder is faster than any loop.
 */
function readAscii(start: number, length: number): string | null {
  if (length <= FLAT_JOIN || (length <= SHORT_STRING && end <= JOIN_BYTES)) {
    let text = '';
    for (let i = start; i < start + length; i++) {
      const byte = bytes[i]!;
      if (byte >= 0x80) return null;
      text += String.fromCharCode(byte);
    }
    return text;
  }
  if (length <= SHORT_STRING || end <= ON_HEAP_BYTES || !(plainMemory ??= bytes.buffer instanceof ArrayBuffer)) {
    units.length = 0;
    for (let i = start; i < start + length; i++) {
      const byte = bytes[i]!;
      if (byte >= 0x80) return null;
      units.push(byte);
    }
    return String.fromCharCode.apply(null, units);
  }
  for (let i = start; i < start + length; i++) if (bytes[i]! >= 0x80) return null;
  return textDecoder.decode(bytes.subarray(start, start + length));
}

/**
 * A binary: a copy up to COPIED_BINARY_BYTES, a view of the message beyond (small-binaries.ts
 * says why); an object all the same, counted as a container. The message is a plain Uint8Array
 * (the codec's plainBytes), whose slice is a copy.
 */
function readBinary(length: number): Result {
  if (length > end - pos) return NOT_HANDLED;
  if (--containersLeft < 0) throw containersOver();
  const start = pos;
  pos += length;
  return length <= COPIED_BINARY_BYTES ? bytes.slice(start, pos) : bytes.subarray(start, pos);
}

function u16(): number {
  const value = (bytes[pos]! << 8) | bytes[pos + 1]!;
  pos += 2;
  return value;
}

function u32(): number {
  return i32() >>> 0;
}

function i32(): number {
  const value = (bytes[pos]! << 24) | (bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!;
  pos += 4;
  return value;
}

function f32(): number {
  for (let i = 0; i < 4; i++) floatBytes[i] = bytes[pos++]!;
  return floatView.getFloat32(0);
}

function f64(): number {
  for (let i = 0; i < 8; i++) floatBytes[i] = bytes[pos++]!;
  return floatView.getFloat64(0);
}
