import { ChunkWriter, MAX_CHUNK_MESSAGE_BYTES, utf8Length } from '@skein/core';
import { strHeaderSize, TEXT_ENCODER_THRESHOLD, textEncoder, utf8EncodeJs } from './library-utf8.js';

/** Containers nested deeper than this are left to the library, whose limit (maxDepth) then applies. */
const MAX_DEPTH = 32;
/** Messages longer than this are left to the library: RPC arguments are small. */
export const MAX_BYTES = MAX_CHUNK_MESSAGE_BYTES;

const TWO_TO_32 = 2 ** 32;
/** How many map keys, over all nesting levels, writeOwnKeys holds at a time. */
const KEY_SLOTS = 256;
// Called as a method of Object.prototype, which V8 answers from for..in's own cache.
const hasOwn = Object.prototype.hasOwnProperty;

// [[TypedArrayName]] as %TypedArray%.prototype reports it: unlike instanceof or a prototype, a
// value cannot pretend to it.
const typedArrayName = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!
  .get as (this: unknown) => string | undefined;

export interface FastEncoderOptions {
  ignoreUndefined: boolean;
  sortKeys: boolean;
  maxDepth: number;
}

/**
 * Writes the plain values RPC calls carry (null and undefined, booleans, numbers, strings,
 * Uint8Array, and arrays and plain objects of them) byte for byte as the library's encoder
 * set up by library-coders.ts does, into one reused buffer. Anything else, anywhere in the
 * value, makes `encode` return null, and the library encodes the whole value: Map, Set, Date,
 * bigint, other typed arrays, class instances, symbols and functions keep exactly the
 * library's bytes and errors.
 */
export class FastEncoder extends ChunkWriter {
  /**
   * The keys of the maps being written (writeOwnKeys), one stretch per nesting level: `keyTop`
   * the first free slot, `keyEnd` one past the last slot written this message (emptied after it).
   */
  private readonly keys: string[] = new Array<string>(KEY_SLOTS).fill('');
  private keyTop = 0;
  private keyEnd = 0;

  /** The deepest container written here (the value itself at 1): its items are one level below. */
  private readonly depthLimit: number;

  constructor(private readonly options: FastEncoderOptions) {
    super();
    this.depthLimit = Math.min(MAX_DEPTH, options.maxDepth - 1);
  }

  protected writeMessage(value: unknown): boolean {
    this.keyTop = 0;
    return this.write(value, 1);
  }

  /** Holds no key past its message: a peer's long keys, echoed, would stay in the slots. */
  protected override messageDone(): void {
    const keys = this.keys;
    for (let i = 0; i < this.keyEnd; i++) keys[i] = '';
    this.keyEnd = 0;
  }

  private write(value: unknown, depth: number): boolean {
    switch (typeof value) {
      case 'number':
        return this.writeNumber(value);
      case 'string':
        return this.writeString(value);
      case 'boolean':
        return this.writeByte(value ? 0xc3 : 0xc2);
      case 'undefined':
        return this.writeByte(0xc0);
      case 'object':
        if (value === null) return this.writeByte(0xc0);
        return depth <= this.depthLimit && this.writeObject(value, depth);
      default:
        return false;
    }
  }

  private writeObject(value: object, depth: number): boolean {
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto === Object.prototype || proto === null) {
      // An array or a typed array whose prototype was replaced is still one to the library.
      if (Array.isArray(value) || ArrayBuffer.isView(value)) return false;
      return this.writeMap(value as Record<string, unknown>, depth);
    }
    if (proto === Array.prototype) return Array.isArray(value) && this.writeArray(value, depth);
    if (isBytes(value, proto)) return this.writeBinary(value as Uint8Array);
    return false;
  }

  private writeArray(array: unknown[], depth: number): boolean {
    if (!this.writeHeader(array.length, 0x90, 0xdc)) return false;
    // Length read at every step, as the library's for..of does.
    for (let i = 0; i < array.length; i++) if (!this.write(array[i], depth + 1)) return false;
    return true;
  }

  private writeMap(map: Record<string, unknown>, depth: number): boolean {
    const { ignoreUndefined, sortKeys } = this.options;
    if (!ignoreUndefined && !sortKeys) {
      const written = this.writeOwnKeys(map, depth);
      if (written !== null) return written;
    }
    const keys = Object.keys(map);
    if (sortKeys) keys.sort();
    let size = keys.length;
    if (ignoreUndefined) {
      // A first pass over the values, as the library makes: a getter runs as often as there.
      size = 0;
      for (const key of keys) if (map[key] !== undefined) size++;
    }
    if (!this.writeHeader(size, 0x80, 0xde)) return false;
    for (const key of keys) {
      const value = map[key];
      if (ignoreUndefined && value === undefined) continue;
      if (!this.writeString(key) || !this.write(value, depth + 1)) return false;
    }
    return true;
  }

  /**
   * A map with the default options, without Object.keys' array (64 of the 161 bytes encoding
   * `{ a, b }` allocated); null to leave it to Object.keys: an inherited enumerable key (which
   * for..in lists and Object.keys does not), or more than KEY_SLOTS keys in all.
   */
  private writeOwnKeys(map: Record<string, unknown>, depth: number): boolean | null {
    const keys = this.keys;
    const base = this.keyTop;
    let top = base;
    let listed = true;
    for (const key in map) {
      if (top === KEY_SLOTS || !hasOwn.call(map, key)) {
        listed = false;
        break;
      }
      keys[top++] = key;
    }
    if (top > this.keyEnd) this.keyEnd = top;
    if (!listed) return null;
    if (!this.writeHeader(top - base, 0x80, 0xde)) return false;
    this.keyTop = top;
    // for..in again, as it reads each value from its cache (a key taken from an array makes a
    // slow lookup). A getter deleting a later key makes for..in skip it where Object.keys' list
    // keeps it (as nil): from that key on, the list.
    let i = base;
    for (const key in map) {
      if (i === top || key !== keys[i]) break;
      if (!this.writeString(key) || !this.write(map[key], depth + 1)) return false;
      i++;
    }
    for (; i < top; i++) {
      const key = keys[i]!;
      if (!this.writeString(key) || !this.write(map[key], depth + 1)) return false;
    }
    this.keyTop = base;
    return true;
  }

  /** A fixarray/fixmap (below 16 items), else its 16- or 32-bit form (`wide16`, `wide16 + 1`). */
  private writeHeader(size: number, fix: number, wide16: number): boolean {
    if (!this.room(5)) return false;
    const bytes = this.bytes;
    if (size < 16) {
      bytes[this.pos++] = fix + size;
    } else if (size < 0x10000) {
      bytes[this.pos] = wide16;
      this.put16(size);
    } else {
      bytes[this.pos] = wide16 + 1;
      this.put32(size);
    }
    return true;
  }

  private writeNumber(value: number): boolean {
    if (!this.room(9)) return false;
    const bytes = this.bytes;
    if (!Number.isSafeInteger(value)) {
      bytes[this.pos] = 0xcb;
      this.view.setFloat64(this.pos + 1, value);
      this.pos += 9;
    } else if (value >= 0) {
      // -0 too: the library writes it as fixint 0.
      if (value < 0x80) {
        bytes[this.pos++] = value;
      } else if (value < 0x100) {
        bytes[this.pos] = 0xcc;
        bytes[this.pos + 1] = value;
        this.pos += 2;
      } else if (value < 0x10000) {
        bytes[this.pos] = 0xcd;
        this.put16(value);
      } else if (value < TWO_TO_32) {
        bytes[this.pos] = 0xce;
        this.put32(value);
      } else {
        bytes[this.pos] = 0xcf; // safe-integers.ts: uint 64, never float 64
        this.put64(value);
      }
    } else if (value >= -0x20) {
      bytes[this.pos++] = 0xe0 | (value + 0x20);
    } else if (value >= -0x80) {
      bytes[this.pos] = 0xd0;
      bytes[this.pos + 1] = value;
      this.pos += 2;
    } else if (value >= -0x8000) {
      bytes[this.pos] = 0xd1;
      this.put16(value);
    } else if (value >= -0x80000000) {
      bytes[this.pos] = 0xd2;
      this.put32(value);
    } else {
      bytes[this.pos] = 0xd3; // safe-integers.ts: int 64, never float 64
      this.put64(value);
    }
    return true;
  }

  private writeString(value: string): boolean {
    const length = value.length;
    if (length > TEXT_ENCODER_THRESHOLD) return this.writeLongString(value);
    // Up to 150 bytes: a fixstr (below 32 bytes) or str 8 header.
    if (!this.room(2 + 3 * length)) return false;
    const bytes = this.bytes;
    const start = this.pos;
    const header = length < 32 ? 1 : 2;
    let at = start + header;
    let i = 0;
    for (; i < length; i++) {
      const unit = value.charCodeAt(i);
      if (unit >= 0x80) break;
      bytes[at++] = unit;
    }
    const byteLength = i === length ? length : utf8Length(value);
    const actualHeader = byteLength < 32 ? 1 : 2;
    if (i < length) utf8EncodeJs(value, bytes, start + actualHeader);
    if (actualHeader === 1) {
      bytes[start] = 0xa0 + byteLength;
    } else {
      bytes[start] = 0xd9;
      bytes[start + 1] = byteLength;
    }
    this.pos = start + actualHeader + byteLength;
    return true;
  }

  /**
   * With TextEncoder, as the library does from 51 UTF-16 units on, and without a JS walk of the
   * string: a string that cannot fit (a byte a unit at least) is given up on at once, and one
   * that may not is encoded into what the message may still take and given up on if it ran out
   * (a 300 KB string was walked here and then again by the library, 2.5 s + 2.1 s of 7 s busy).
   */
  private writeLongString(value: string): boolean {
    const length = value.length;
    const left = MAX_BYTES - (this.pos - this.start);
    if (5 + length > left) return false;
    // Room for 3 bytes a unit when the message may take them, else for all it may still take.
    if (!this.room(Math.min(5 + 3 * length, left))) return false;
    const start = this.pos;
    // Placed after the header an ASCII string gets, moved if the real one is longer; the end
    // leaves room for the longest header, so that the moved string is still within `left`.
    const guess = strHeaderSize(length);
    const end = Math.min(this.bytes.length, start + left - 5 + guess);
    const { read, written } = textEncoder.encodeInto(value, this.bytes.subarray(start + guess, end));
    if (read < length) return false;
    const header = strHeaderSize(written);
    if (header !== guess) this.bytes.copyWithin(start + header, start + guess, start + guess + written);
    this.pos = start;
    if (header === 2) {
      this.bytes[this.pos] = 0xd9;
      this.bytes[this.pos + 1] = written;
      this.pos += 2;
    } else if (header === 3) {
      this.bytes[this.pos] = 0xda;
      this.put16(written);
    } else {
      this.bytes[this.pos] = 0xdb;
      this.put32(written);
    }
    this.pos += written;
    return true;
  }

  private writeBinary(value: Uint8Array): boolean {
    const size = value.byteLength;
    if (!this.room(5 + size)) return false;
    const bytes = this.bytes;
    if (size < 0x100) {
      bytes[this.pos] = 0xc4;
      bytes[this.pos + 1] = size;
      this.pos += 2;
    } else if (size < 0x10000) {
      bytes[this.pos] = 0xc5;
      this.put16(size);
    } else {
      bytes[this.pos] = 0xc6;
      this.put32(size);
    }
    bytes.set(value, this.pos);
    this.pos += size;
    return true;
  }

  // The put* write after the type byte at this.pos and move past both.
  private put16(value: number): void {
    const bytes = this.bytes;
    bytes[this.pos + 1] = value >>> 8;
    bytes[this.pos + 2] = value;
    this.pos += 3;
  }

  private put32(value: number): void {
    const bytes = this.bytes;
    bytes[this.pos + 1] = value >>> 24;
    bytes[this.pos + 2] = value >>> 16;
    bytes[this.pos + 3] = value >>> 8;
    bytes[this.pos + 4] = value;
    this.pos += 5;
  }

  /** As the library's setUint64/setInt64: the high word floored, the low word modulo 2^32. */
  private put64(value: number): void {
    const bytes = this.bytes;
    const high = Math.floor(value / TWO_TO_32);
    const low = value >>> 0;
    bytes[this.pos + 1] = high >>> 24;
    bytes[this.pos + 2] = high >>> 16;
    bytes[this.pos + 3] = high >>> 8;
    bytes[this.pos + 4] = high;
    bytes[this.pos + 5] = low >>> 24;
    bytes[this.pos + 6] = low >>> 16;
    bytes[this.pos + 7] = low >>> 8;
    bytes[this.pos + 8] = low;
    this.pos += 9;
  }
}

/** A Uint8Array or a subclass (Buffer): the library writes its bytes as bin. */
function isBytes(value: object, proto: object): boolean {
  return (
    (proto === Uint8Array.prototype || Object.getPrototypeOf(proto) === Uint8Array.prototype) &&
    typedArrayName.call(value) === 'Uint8Array'
  );
}
