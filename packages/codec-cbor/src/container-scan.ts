/** The default `maxContainers`: a message makes at most 1 Mi objects (67 MB of empty maps), whatever its size. */
export const DEFAULT_MAX_CONTAINERS = 1 << 20;

const overBudget = (maxContainers: number): Error =>
  new RangeError(`more than maxContainers (${maxContainers}) arrays, maps, byte strings and tags in one message; raise the codec's maxContainers option to read it`);

/**
 * Refuses a message of more than `maxContainers` arrays, maps, byte strings and tags (empty ones
 * too; each byte string is a Uint8Array, each tag makes an object: a Date, Set, Map, bigint,
 * typed array, record or Tag) before anything reads it. A 16 MiB message of empty arrays, or
 * of empty byte strings (one byte each), would make 16.7 million objects.
 *
 * cbor-x reads by recursion and makes an empty array or map inline, with no hook to count it
 * by, so the codec counts headers first. Each counted header takes a byte at least, so a
 * message of at most maxContainers bytes cannot be over and is not scanned: every message the
 * fast path reads (64 KiB at most) with the default, and all the small messages RPC carries.
 */
export class ContainerScan {
  constructor(readonly maxContainers: number) {}

  /** Throws when `bytes` holds more than maxContainers containers. */
  check(bytes: Uint8Array): void {
    // Small enough for V8 to inline where it is called: a small message costs no call.
    if (bytes.length > this.maxContainers) this.scan(bytes);
  }

  /**
   * Counts the array, map, byte string and tag headers in `bytes`, skipping strings' bytes by their length. No
   * stack: only the count matters. It stops at a header it cannot read (reserved, truncated),
   * where cbor-x will stop too, having made only the containers before it.
   */
  private scan(bytes: Uint8Array): void {
    const end = bytes.length;
    let left = this.maxContainers;
    let pos = 0;
    while (pos < end) {
      const head = bytes[pos++]!;
      const major = head >> 5;
      const info = head & 31;
      // Byte strings (major 2) too: each is a Uint8Array, one byte for an empty one.
      if ((major === 2 || (major >= 4 && major <= 6)) && --left < 0) throw overBudget(this.maxContainers);
      if (info < 24) {
        if (major === 2 || major === 3) pos += info; // a short byte or text string
      } else if (info < 28) {
        // The argument (or a float's bits) in the 1, 2, 4 or 8 bytes that follow.
        const width = 1 << (info - 24);
        if (major === 2 || major === 3) {
          let length = 0;
          for (let i = 0; i < width; i++) length = length * 256 + (bytes[pos + i] ?? 0);
          pos += length;
        }
        pos += width;
      } else if (info < 31) {
        return; // reserved: cbor-x refuses it
      }
      // info 31: an indefinite length (items follow, then a break) or the break itself.
    }
  }
}
