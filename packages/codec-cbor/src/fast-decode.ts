/**
 * What the fast decoder returns for a message it leaves to cbor-x: byte strings, tags, floats
 * of 16 or 32 bits, 64-bit integers, indefinite lengths, map keys that are not text or are
 * `__proto__`, text that is not valid UTF-8, nesting deeper than MAX_DEPTH, anything malformed
 * or truncated, trailing bytes. cbor-x then reads the whole message, so its values and errors
 * stay its own.
 */
export const NOT_HANDLED: unique symbol = Symbol('cbor: not handled by the fast decoder');

/** Longer messages are left to cbor-x, whose native string reader is faster on long text. */
const MAX_BYTES = 64 * 1024;
/** Deeper containers are left to cbor-x. */
const MAX_DEPTH = 32;
/** Longer ASCII strings are read with TextDecoder, which costs more to call than to run. */
const SHORT_STRING = 24;
const EMPTY: Uint8Array = new Uint8Array(0);
// Valid UTF-8 reads the same by every decoder; invalid is left to cbor-x, which reads it its way.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// The message being read. No application code runs during a decode, so there is only ever one
// at a time, whatever the number of codecs.
let bytes = EMPTY;
let pos = 0;
let end = 0;
/** Array slots the message may still have made up front: its bytes, as cbor-x counts them. */
let slots = 0;

// Floats are copied here to be read: a DataView of each message would cost more than the value.
const floatBytes = new Uint8Array(8);
const floatView = new DataView(floatBytes.buffer);

/**
 * Reads the one CBOR value `input` holds as cbor-x's Decoder set up by cbor-codec.ts reads it,
 * with plain index arithmetic; or returns NOT_HANDLED. Only arrays, maps of text keys, text,
 * integers of up to 32 bits, floats of 64 bits and the simple values false, true, null and
 * undefined are read here: what cbor-x returns for them is the same whatever its options.
 * Nesting deeper than `maxDepth` (or MAX_DEPTH + 1 levels) is left to cbor-x too.
 */
export function fastDecode(input: Uint8Array, maxDepth = Infinity): unknown {
  if (input.length > MAX_BYTES) return NOT_HANDLED;
  bytes = input;
  pos = 0;
  end = input.length;
  slots = end;
  let value: unknown;
  try {
    // The message is level 1: maxDepth - 1 levels of non-empty containers at most, so a
    // message read here is never deeper than maxDepth and needs no depth scan (cbor-codec.ts).
    value = read(Math.min(MAX_DEPTH, maxDepth - 1));
  } catch {
    value = NOT_HANDLED; // invalid UTF-8
  }
  const complete = pos === end;
  bytes = EMPTY; // hold on to no message after its decode
  return complete ? value : NOT_HANDLED;
}

/** `deeper`: how many more levels of non-empty containers, from this value down, are read here. */
function read(deeper: number): unknown {
  if (pos >= end) return NOT_HANDLED;
  const head = bytes[pos++]!;
  const major = head >> 5;
  if (major === 7) return simple(head);
  const n = argument(head & 0x1f);
  if (n < 0) return NOT_HANDLED;
  switch (major) {
    case 0:
      return n;
    case 1:
      return -1 - n;
    case 3:
      return readString(n);
    case 4:
      return readArray(n, deeper);
    case 5:
      return readMap(n, deeper);
    default:
      return NOT_HANDLED; // byte strings and tags
  }
}

/** A head's argument of up to 32 bits, or -1 (64 bits, indefinite, reserved, truncated). */
function argument(info: number): number {
  if (info < 0x18) return info;
  if (info === 0x18) return pos + 1 <= end ? bytes[pos++]! : -1;
  if (info === 0x19) {
    if (pos + 2 > end) return -1;
    const n = (bytes[pos]! << 8) | bytes[pos + 1]!;
    pos += 2;
    return n;
  }
  if (info === 0x1a) {
    if (pos + 4 > end) return -1;
    const n = ((bytes[pos]! << 24) | (bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!) >>> 0;
    pos += 4;
    return n;
  }
  return -1;
}

function simple(head: number): unknown {
  switch (head) {
    case 0xf4:
      return false;
    case 0xf5:
      return true;
    case 0xf6:
      return null;
    case 0xf7:
      return undefined;
    case 0xfb:
      if (pos + 8 > end) return NOT_HANDLED;
      for (let i = 0; i < 8; i++) floatBytes[i] = bytes[pos++]!;
      return floatView.getFloat64(0);
    default:
      return NOT_HANDLED;
  }
}

function readArray(size: number, deeper: number): unknown {
  if (size === 0) return [];
  // Every item takes a byte at least: a longer claim is truncated, and cbor-x says so. Nested
  // arrays each make their slots first, so all of them together must fit in the message too.
  if (deeper <= 0 || size > end - pos || (slots -= size) < 0) return NOT_HANDLED;
  const array = new Array<unknown>(size);
  for (let i = 0; i < size; i++) {
    const item = read(deeper - 1);
    if (item === NOT_HANDLED) return NOT_HANDLED;
    array[i] = item;
  }
  return array;
}

function readMap(size: number, deeper: number): unknown {
  if (size === 0) return {};
  if (deeper <= 0 || size * 2 > end - pos) return NOT_HANDLED;
  const map: Record<string, unknown> = {};
  for (let i = 0; i < size; i++) {
    const key = readKey();
    // cbor-x renames __proto__; other keys are plain properties.
    if (key === null || key === '__proto__') return NOT_HANDLED;
    const value = read(deeper - 1);
    if (value === NOT_HANDLED) return NOT_HANDLED;
    map[key] = value;
  }
  return map;
}

/** A text key, or null: cbor-x converts other keys to strings, or refuses them. */
function readKey(): string | null {
  if (pos >= end) return null;
  const head = bytes[pos++]!;
  if (head >> 5 !== 3) return null;
  const length = argument(head & 0x1f);
  if (length < 0) return null;
  const key = readString(length);
  return key === NOT_HANDLED ? null : (key as string);
}

function readString(length: number): unknown {
  if (length > end - pos) return NOT_HANDLED;
  const start = pos;
  pos += length;
  if (length <= SHORT_STRING) {
    let text = '';
    for (let i = start; i < pos; i++) {
      const byte = bytes[i]!;
      if (byte >= 0x80) return utf8.decode(bytes.subarray(start, pos));
      text += String.fromCharCode(byte);
    }
    return text;
  }
  return utf8.decode(bytes.subarray(start, pos));
}
