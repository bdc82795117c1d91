import type { Logger } from '@skein/core';

/**
 * Says once which keys under the prefix are no entry (another tool's: a key that is not UTF-8 or
 * not `<prefix>/<type>/<id>`, a value that is not an entry's JSON), not once per write: a tool
 * that rewrites such a key in a loop would otherwise fill the log with one line per write. A key
 * is said again once it was an entry or was deleted in between, or after a full read that no
 * longer found it bad. Keys by their bytes (one char a byte): two keys that are not UTF-8 may
 * have one text. Holds only keys that are listed and bad.
 */
export class NoEntryLog {
  private said = new Set<string>();
  /** The keys found bad by the whole view being decoded, which replace `said` when it is done. */
  private reading: Set<string> | undefined;

  constructor(private readonly logger: Logger) {}

  /** `key` is no entry: logs `msg` with `obj` unless said already while it stayed so. */
  bad(key: Buffer, obj: Record<string, unknown>, msg: string): void {
    const k = key.toString('latin1');
    this.reading?.add(k);
    if (this.said.has(k)) return;
    this.said.add(k);
    this.logger.warn(obj, msg);
  }

  /**
   * `key` is an entry again, or was deleted. Nothing to forget with nothing said; nor in a
   * whole-view read, where a good key is simply not added to `reading`, which replaces `said` at
   * its end (each key comes once in a view). Spares a latin1 string per good entry, on every Put
   * and every full read.
   */
  good(key: Buffer): void {
    if (this.reading || this.said.size === 0) return;
    this.said.delete(key.toString('latin1'));
  }

  /**
   * Runs `decode`, the whole view read again, after which only the keys it found bad stay said:
   * one found bad again is not said again, one gone or good since is forgotten.
   */
  wholeView<T>(decode: () => T): T {
    this.reading = new Set();
    try {
      return decode();
    } finally {
      this.said = this.reading;
      this.reading = undefined;
    }
  }
}
