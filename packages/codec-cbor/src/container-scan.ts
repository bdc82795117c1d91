import { tooManyKeys } from './map-keys.js';
import { followTag } from './record-heads.js';

/**
 * The default `maxContainers`: a message makes at most 1 Mi objects (67 MB of empty maps, 35 MB
 * of 2-character strings), whatever its size. Messages of up to 1 MiB never reach it (each
 * counted value takes a byte at least), and the realistic payloads measured count one object
 * per 4 bytes or more: only such a message of 4 MiB or more does (the README gives the figures;
 * `benchmarks/codec-containers.js` measures them).
 */
export const DEFAULT_MAX_CONTAINERS = 1 << 20;

const overBudget = (maxContainers: number): Error =>
  new RangeError(`more than maxContainers (${maxContainers}) arrays, maps, byte strings, text strings and tags in one message; raise the codec's maxContainers option to read it`);

/** Whether a text string of `length` bytes, the first `first`, decodes to a new string: '' and one ASCII character are V8's shared ones. */
const makesString = (length: number, first = 0): boolean => length >= 2 || (length === 1 && first >= 0x80);

/**
 * Refuses a message of more than `maxContainers` arrays, maps, byte strings, text strings and
 * tags (empty ones too; each byte string is a Uint8Array, each tag makes an object: a Date,
 * Set, Map, bigint, typed array, record or Tag) before anything reads it. A 16 MiB message of
 * empty arrays, or of empty byte strings (one byte each), would make 16.7 million objects; one
 * of 2-character strings 5.6 million strings.
 *
 * Text strings count when decoding makes a new string: those of 2 bytes or more, map keys
 * included (cbor-x caches keys only in messages under 180 bytes, and the fast path not at all),
 * and a 1-byte one that is not ASCII (read as U+FFFD, a new string each). The empty string and
 * 1-byte ASCII ones are V8's own, made once; cbor-x refuses indefinite-length strings.
 *
 * cbor-x reads by recursion and makes an empty array or map inline, with no hook to count it
 * by, so the codec counts headers first. Each counted header takes a byte at least, so a
 * message of at most maxContainers bytes cannot be over and is not scanned: every message the
 * fast path reads (64 KiB at most) with the default, and all the small messages RPC carries.
 */
export class ContainerScan {
  /**
   * Shorter messages are not scanned: they cannot hold more than maxContainers containers, nor
   * maps of more than maxMapKeys keys (each key and each value takes a byte at least).
   */
  private readonly scanned: number;

  constructor(
    readonly maxContainers: number,
    readonly maxMapKeys: number,
  ) {
    this.scanned = Math.min(maxContainers, 2 * maxMapKeys);
  }

  /**
   * Throws when `bytes` holds more than maxContainers containers, or definite-length maps of
   * more than maxMapKeys keys in all (the sum of their headers: no stack needed). Returns
   * whether it holds an indefinite-length map, whose keys only a walk of the message's
   * structure can count (DepthScan does).
   */
  check(bytes: Uint8Array): boolean {
    // Small enough for V8 to inline where it is called: a small message costs no call.
    return bytes.length > this.scanned && this.scan(bytes);
  }

  /**
   * Counts the array, map, byte string, text string and tag headers in `bytes`, skipping
   * strings' bytes by their length. No stack: only the count matters (a text string counts the
   * same as a key or a value). It stops at a header it cannot read (reserved, truncated),
   * where cbor-x will stop too, having made only the containers before it.
   */
  private scan(bytes: Uint8Array): boolean {
    const end = bytes.length;
    let left = this.maxContainers;
    let keysLeft = this.maxMapKeys;
    let indefiniteMap = false;
    let records = false; // whether a cbor-x record may be defined by now (record-heads.ts)
    let pos = 0;
    while (pos < end) {
      const head = bytes[pos++]!;
      const major = head >> 5;
      const info = head & 31;
      // Byte strings (major 2) too: each is a Uint8Array, one byte for an empty one.
      if ((major === 2 || (major >= 4 && major <= 6)) && --left < 0) throw overBudget(this.maxContainers);
      if (info < 24) {
        if (major === 3 && makesString(info, bytes[pos]) && --left < 0) throw overBudget(this.maxContainers);
        if (major === 2 || major === 3) pos += info; // a short byte or text string
        else if (major === 5 && (keysLeft -= info) < 0) throw tooManyKeys(this.maxMapKeys);
      } else if (info < 28) {
        // The argument (or a float's bits) in the 1, 2, 4 or 8 bytes that follow.
        const width = 1 << (info - 24);
        if (major === 2 || major === 3 || major === 5 || major === 6) {
          let length = 0;
          for (let i = 0; i < width; i++) length = length * 256 + (bytes[pos + i] ?? 0);
          if (major === 5) {
            // A map's header: its number of keys, refused before cbor-x reads one of them.
            if ((keysLeft -= length) < 0) throw tooManyKeys(this.maxMapKeys);
          } else if (major === 6) {
            // A tag: after a record's, a head cbor-x reads its own way, refused unless read alike here.
            records = followTag(length, bytes[pos + width], records);
          } else {
            if (major === 3 && makesString(length, bytes[pos + width]) && --left < 0) throw overBudget(this.maxContainers);
            pos += length;
          }
        }
        pos += width;
      } else if (info < 31) {
        return indefiniteMap; // reserved: cbor-x refuses it
      } else if (major === 5) {
        indefiniteMap = true;
      }
      // Other info 31: an indefinite length (items follow, then a break) or the break itself.
    }
    return indefiniteMap;
  }
}
