import { strictUtf8 } from './strict-utf8.js';

/** Places kept: the keys and values of a head's first eight entries. */
const PLACES = 16;

/**
 * The strings of the call head a connection sent last, by place (entry i's key at 2i, its value
 * at 2i + 1). A client sends the same keys in every call, and mostly the same values (a bearer
 * token, a tenant): comparing the bytes with the string read last at that place costs a few ns,
 * decoding them again ~100 (a view and a TextDecoder call each), and a key read again is the
 * very string V8 already looked up as a property name when it filled the last record.
 *
 * Only ASCII strings are kept (a byte per character: the comparison is byte to char code), at
 * most one head's worth (bounded by the connection's maxHead: each place read is the new head's,
 * kept or emptied, and `headEnded` lets go of the places past it, so a peer cannot pile up the
 * long values of heads of fewer and fewer entries), and only per connection: a cache
 * shared by connections, compared byte by byte and stopping at the first difference, would tell
 * a peer by its timing how much of another peer's token it had guessed.
 */
export class RecentStrings {
  /** Protected so a test can weigh them. */
  protected readonly strings: string[] = [];

  /** The string in `b[from, to)`, the one kept at `place` when the bytes are its. Throws on invalid UTF-8. */
  read(b: Uint8Array, from: number, to: number, place: number): string {
    const kept = this.strings[place];
    if (kept !== undefined && kept.length === to - from && sameAscii(b, from, kept)) return kept;
    const s = this.decode(b, from, to);
    // As long as its bytes: ASCII (any other character takes more bytes than UTF-16 units).
    // Another empties its place: what an earlier head had there is let go.
    if (place < PLACES) this.keep(place, s.length === to - from ? s : '');
    return s;
  }

  /** A head read, or refused, after `places` places: the places past them (an earlier head's) are let go. */
  headEnded(places: number): void {
    if (this.strings.length > places) this.strings.length = places;
  }

  /** A string not kept: decoded. Protected so a test can count them. */
  protected decode(b: Uint8Array, from: number, to: number): string {
    return strictUtf8.decode(b.subarray(from, to));
  }

  /** Holes are filled first: a head's places are read in order, so `strings` stays a packed array. */
  private keep(place: number, s: string): void {
    const strings = this.strings;
    while (strings.length < place) strings.push('');
    strings[place] = s;
  }
}

/** True when `kept` (ASCII) is exactly the bytes at `b[from, from + kept.length)`. */
function sameAscii(b: Uint8Array, from: number, kept: string): boolean {
  for (let i = 0; i < kept.length; i++) if (b[from + i] !== kept.charCodeAt(i)) return false;
  return true;
}
