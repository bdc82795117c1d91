import { decodedEnd, utf8DecodeJs } from './library-utf8.js';

/** Keys of 1 to this many bytes are cached, as the library caches them; others are read as strings. */
export const MAX_KEY_BYTES = 16;
const RECORDS_PER_LENGTH = 16;

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

  /**
   * The key in `bytes[start, start + length)` (1 to MAX_KEY_BYTES bytes), or null when it is
   * not one to read here: a UTF-8 sequence cut short by the key's end reads bytes beyond it,
   * and the library's own cache (shared by every decoder in the process) may already hold
   * another string for them.
   */
  read(bytes: Uint8Array, start: number, length: number): string | null {
    const records = this.records[length]!;
    search: for (let r = 0; r < records.length; r++) {
      const cached = records[r]!.bytes;
      for (let i = 0; i < length; i++) if (cached[i] !== bytes[start + i]) continue search;
      return records[r]!.key;
    }
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
