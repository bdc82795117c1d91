import { ChunkWriter, MAX_CHUNK_MESSAGE_BYTES } from '@skein/core';

/** Containers nested deeper than this are left to cbor-x. */
const MAX_DEPTH = 32;
/** Messages longer than this are left to cbor-x: RPC arguments are small. */
export const MAX_BYTES = MAX_CHUNK_MESSAGE_BYTES;
/** From this many UTF-16 units on, cbor-x writes a string with the engine's UTF-8 writer, not its loop. */
const ENGINE_UTF8 = 0x40;

const textEncoder = new TextEncoder();
const objectHasOwn = Object.prototype.hasOwnProperty;

/**
 * Writes the plain values RPC calls carry (null, undefined, booleans, numbers, strings, and
 * arrays and plain objects of them) byte for byte as cbor-x's Encoder set up by cbor-codec.ts
 * does (records off), without its per-message work: cbor-x hands out a Node Buffer per
 * message, which the codec then wraps in a plain Uint8Array. Anything else anywhere in the value
 * (byte strings, Map, Set, Date, bigint, class instances, symbols, functions, deep nesting) makes
 * `encode` return null, and cbor-x encodes the whole value: its bytes and errors stay its own.
 */
export class FastEncoder extends ChunkWriter {
  /** The deepest level an object is written at here: its items are one level below it. */
  private readonly depthLimit: number;

  /** `maxDepth`: the codec's, so a value this writes is never deeper (deeper ones go to cbor-x, whose bytes the codec checks). */
  constructor(
    private readonly variableMapSize: boolean,
    maxDepth = Infinity,
  ) {
    super();
    this.depthLimit = Math.min(MAX_DEPTH, maxDepth - 1);
  }

  protected writeMessage(value: unknown): boolean {
    return this.write(value, 1);
  }

  private write(value: unknown, depth: number): boolean {
    switch (typeof value) {
      case 'number':
        return this.writeNumber(value);
      case 'string':
        return this.writeString(value);
      case 'boolean':
        return this.writeByte(value ? 0xf5 : 0xf4);
      case 'undefined':
        return this.writeByte(0xf7);
      case 'object':
        if (value === null) return this.writeByte(0xf6);
        return depth <= this.depthLimit && this.writeObject(value, depth);
      default:
        return false;
    }
  }

  private writeObject(value: object, depth: number): boolean {
    // cbor-x chooses by `constructor`; the prototype checks keep out values that fake it.
    const proto = Object.getPrototypeOf(value) as object | null;
    const constructor = (value as { constructor?: unknown }).constructor;
    if (proto === Object.prototype && constructor === Object) {
      if (Array.isArray(value) || ArrayBuffer.isView(value)) return false;
      return this.variableMapSize ? this.writeSizedMap(value as Record<string, unknown>, depth) : this.writeMap(value as Record<string, unknown>, depth);
    }
    if (proto === Array.prototype && constructor === Array && Array.isArray(value)) return this.writeArray(value as unknown[], depth);
    return false;
  }

  private writeArray(array: unknown[], depth: number): boolean {
    const length = array.length;
    if (!this.writeHead(0x80, length)) return false;
    for (let i = 0; i < length; i++) if (!this.write(array[i], depth + 1)) return false;
    return true;
  }

  /** As cbor-x without variableMapSize: a 16-bit count, then the own keys `for..in` finds. */
  private writeMap(map: Record<string, unknown>, depth: number): boolean {
    if (map.hasOwnProperty !== objectHasOwn || !this.room(3)) return false;
    // From the message's start: room() may move the message to a new chunk.
    const head = this.pos - this.start;
    this.bytes[this.pos] = 0xb9;
    this.pos += 3;
    let size = 0;
    for (const key in map) {
      if (!map.hasOwnProperty(key)) continue;
      if (!this.writeString(key) || !this.write(map[key], depth + 1)) return false;
      size++;
    }
    if (size >= 0x10000) return false; // cbor-x widens the header to 32 bits
    this.bytes[this.start + head + 1] = size >>> 8;
    this.bytes[this.start + head + 2] = size & 0xff;
    return true;
  }

  /** As cbor-x with variableMapSize: keys and values taken first, the smallest header. */
  private writeSizedMap(map: Record<string, unknown>, depth: number): boolean {
    const keys = Object.keys(map);
    const values = Object.values(map);
    const length = keys.length;
    if (!this.writeHead(0xa0, length)) return false;
    for (let i = 0; i < length; i++) if (!this.writeString(keys[i]!) || !this.write(values[i], depth + 1)) return false;
    return true;
  }

  /** A major type's head (`major` is its top 3 bits) holding `n`, in its smallest form. */
  private writeHead(major: number, n: number): boolean {
    if (!this.room(5)) return false;
    const bytes = this.bytes;
    const at = this.pos;
    if (n < 0x18) {
      bytes[at] = major | n;
      this.pos = at + 1;
    } else if (n < 0x100) {
      bytes[at] = major | 0x18;
      bytes[at + 1] = n;
      this.pos = at + 2;
    } else if (n < 0x10000) {
      bytes[at] = major | 0x19;
      bytes[at + 1] = n >>> 8;
      bytes[at + 2] = n & 0xff;
      this.pos = at + 3;
    } else {
      bytes[at] = major | 0x1a;
      this.view.setUint32(at + 1, n);
      this.pos = at + 5;
    }
    return true;
  }

  /** Integers from -2^32 to 2^32 - 1 as integers (-0 as 0), any other number as float 64. */
  private writeNumber(value: number): boolean {
    if (value >>> 0 === value) return this.writeHead(0x00, value);
    if (value >> 0 === value) return this.writeHead(0x20, ~value);
    if (value < 0 && value >= -0x100000000 && Math.floor(value) === value) return this.writeHead(0x20, -1 - value);
    if (!this.room(9)) return false;
    this.bytes[this.pos] = 0xfb;
    this.view.setFloat64(this.pos + 1, value);
    this.pos += 9;
    return true;
  }

  private writeString(value: string): boolean {
    const length = value.length;
    if (length >= ENGINE_UTF8) return this.writeLongString(value);
    // Written after the head its UTF-16 length asks for, moved on a byte when its UTF-8 needs more.
    if (!this.room(2 + 3 * length)) return false;
    const bytes = this.bytes;
    const start = this.pos;
    const guess = length < 0x18 ? 1 : 2;
    let at = start + guess;
    for (let i = 0; i < length; i++) {
      let unit = value.charCodeAt(i);
      if (unit < 0x80) {
        bytes[at++] = unit;
      } else if (unit < 0x800) {
        bytes[at++] = (unit >> 6) | 0xc0;
        bytes[at++] = (unit & 0x3f) | 0x80;
      } else if ((unit & 0xfc00) === 0xd800 && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        // A surrogate pair; a lone surrogate is written as its own 3 bytes, as cbor-x does.
        unit = 0x10000 + ((unit & 0x03ff) << 10) + (value.charCodeAt(++i) & 0x03ff);
        bytes[at++] = (unit >> 18) | 0xf0;
        bytes[at++] = ((unit >> 12) & 0x3f) | 0x80;
        bytes[at++] = ((unit >> 6) & 0x3f) | 0x80;
        bytes[at++] = (unit & 0x3f) | 0x80;
      } else {
        bytes[at++] = (unit >> 12) | 0xe0;
        bytes[at++] = ((unit >> 6) & 0x3f) | 0x80;
        bytes[at++] = (unit & 0x3f) | 0x80;
      }
    }
    const byteLength = at - start - guess;
    if (byteLength < 0x18) {
      bytes[start] = 0x60 | byteLength;
    } else {
      if (guess === 1) bytes.copyWithin(start + 2, start + 1, at++);
      bytes[start] = 0x78;
      bytes[start + 1] = byteLength;
    }
    this.pos = at;
    return true;
  }

  /** With the engine's UTF-8 writer, as cbor-x does (a lone surrogate becomes U+FFFD). */
  private writeLongString(value: string): boolean {
    const maxBytes = 3 * value.length;
    if (!this.room(5 + maxBytes)) return false;
    const start = this.pos;
    const { written } = textEncoder.encodeInto(value, this.bytes.subarray(start + 5, start + 5 + maxBytes));
    this.writeHead(0x60, written);
    this.bytes.copyWithin(this.pos, start + 5, start + 5 + written);
    this.pos += written;
    return true;
  }
}
