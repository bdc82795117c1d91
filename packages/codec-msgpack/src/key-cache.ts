import { decodedEnd, utf8DecodeJs } from './library-utf8.js';

/** Keys of 1 to this many bytes are cached, as the library caches them; others are read as strings. */
export const MAX_KEY_BYTES = 16;
const RECORDS_PER_LENGTH = 16;
/**
 * Keys of up to this many bytes are also found by their bytes read as one number, in a table of
 * SHORT_SLOTS slots (each holds the key last read there): one comparison instead of a search.
 */
const SHORT_KEY_BYTES = 4;
const SHORT_SLOTS = 256;

interface KeyRecord {
  readonly bytes: Uint8Array;
  readonly key: string;
}

/**
 * The map keys the fast decoder read last, by their bytes, as the library's CachedKeyDecoder
 * keeps them: the same few field names arrive in every message, and a cached key is neither
 * decoded again nor a new string V8 has to look up before it can use it as a property name.
 */
export class KeyCache {
  private readonly records: KeyRecord[][] = Array.from({ length: MAX_KEY_BYTES + 1 }, () => []);
  private readonly next: number[] = new Array<number>(MAX_KEY_BYTES + 1).fill(0);
  private readonly shortWords = new Int32Array(SHORT_SLOTS);
  private readonly shortLengths = new Uint8Array(SHORT_SLOTS); // 0: an empty slot
  private readonly shortKeys: string[] = new Array<string>(SHORT_SLOTS).fill('');
  /**
   * How many keys were read anew, not found: each made a string and a record (maxContainers
   * counts them, a key found costs nothing). Compared before and after a read, never reset;
   * it wraps at 32 bits, to stay a small integer.
   */
  misses = 0;

  /**
   * The key in `bytes[start, start + length)` (1 to MAX_KEY_BYTES bytes), or null when it is
   * not one to keep: a UTF-8 sequence cut short by the key's end reads bytes beyond it, so its
   * string is not a function of the key's bytes.
   */
  read(bytes: Uint8Array, start: number, length: number): string | null {
    if (length > SHORT_KEY_BYTES) return this.search(bytes, start, length);
    let word = 0;
    for (let i = start; i < start + length; i++) word = (word << 8) | bytes[i]!;
    const slot = Math.imul(word ^ length, 0x9e3779b1) >>> 24; // SHORT_SLOTS: the top 8 bits
    if (this.shortLengths[slot] === length && this.shortWords[slot] === word) return this.shortKeys[slot]!;
    const key = this.search(bytes, start, length);
    if (key !== null) {
      this.shortWords[slot] = word;
      this.shortLengths[slot] = length;
      this.shortKeys[slot] = key;
    }
    return key;
  }

  /** The key from the records of its length, read and recorded if it is not there. */
  private search(bytes: Uint8Array, start: number, length: number): string | null {
    const records = this.records[length]!;
    search: for (let r = 0; r < records.length; r++) {
      const cached = records[r]!.bytes;
      for (let i = 0; i < length; i++) if (cached[i] !== bytes[start + i]) continue search;
      return records[r]!.key;
    }
    this.misses = (this.misses + 1) | 0;
    const key = utf8DecodeJs(bytes, start, length);
    if (decodedEnd !== start + length) return null;
    this.store(records, length, { bytes: bytes.slice(start, start + length), key });
    return key;
  }

  private store(records: KeyRecord[], length: number, record: KeyRecord): void {
    if (records.length < RECORDS_PER_LENGTH) {
      records.push(record);
      return;
    }
    const slot = this.next[length]!;
    records[slot] = record;
    this.next[length] = (slot + 1) % RECORDS_PER_LENGTH;
  }
}

/** The process's one cache of map keys: the fast path's, and the library's through `libraryKeyDecoder`. */
export const keyCache = new KeyCache();

/**
 * The library decoder's `keyDecoder` (library-coders.ts): the same cache. The library's own
 * (its CachedKeyDecoder, shared by every decoder in the process) also keeps a key cut short
 * inside a UTF-8 sequence, whose string it read from the bytes after the key, and replaces
 * records at random: the same bytes could then read as different strings from one message to
 * the next. Here such a key is read anew each time, as the library reads a key it has not
 * cached, and every other key as the library reads it.
 */
export const libraryKeyDecoder = {
  canBeCached: (byteLength: number): boolean => byteLength > 0 && byteLength <= MAX_KEY_BYTES,
  decode: (bytes: Uint8Array, at: number, byteLength: number): string => keyCache.read(bytes, at, byteLength) ?? utf8DecodeJs(bytes, at, byteLength),
};
