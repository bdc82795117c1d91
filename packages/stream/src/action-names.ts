const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
/** A power of two, so a hash picks a slot with a mask. */
const SLOTS = 64;
const CACHEABLE = 128;

/**
 * Decodes action strings, remembering the names a connection used. A connection calls a
 * handful of methods over and over, and comparing a few bytes is much cheaper than crossing
 * into the UTF-8 decoder for every request. Direct-mapped: a name has one slot, picked by a
 * hash of a few of its bytes, so a lookup is one compare however many names are remembered,
 * and a service's methods called in rotation keep their slots (a FIFO of fewer slots than
 * methods would miss every time). Throws on invalid UTF-8.
 */
export class ActionNames {
  private readonly bytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(SLOTS).fill(undefined);
  private readonly names: string[] = new Array<string>(SLOTS).fill('');

  /** The name in the first `length` bytes of `b`. */
  decode(b: Uint8Array, length = b.length): string {
    if (length === 0 || length > CACHEABLE) return strictUtf8.decode(b.subarray(0, length));
    const slot = slotOf(b, length);
    const known = this.bytes[slot];
    if (known !== undefined && startsWith(b, known, length)) return this.names[slot]!;
    return this.remember(slot, b, length);
  }

  /** A miss: decodes the name and takes its slot. Protected so a test can count misses. */
  protected remember(slot: number, b: Uint8Array, length: number): string {
    const name = strictUtf8.decode(b.subarray(0, length));
    // A copy: `b` is a view into a received chunk that the cache must not keep alive.
    this.bytes[slot] = b.slice(0, length);
    this.names[slot] = name;
    return name;
  }
}

/**
 * A name's slot from its length and a few bytes: the first, the middle and the last two. Method
 * names of one service share a prefix and differ near the end, so the last bytes carry most of
 * the difference; odd factors keep names that differ by one character in different slots.
 */
function slotOf(b: Uint8Array, length: number): number {
  const last = b[length - 1]!;
  const beforeLast = length > 1 ? b[length - 2]! : 0;
  return (length * 37 + b[0]! * 17 + b[length >> 1]! * 5 + beforeLast * 11 + last) & (SLOTS - 1);
}

/** True when the first `length` bytes of `b` are exactly `known`. */
function startsWith(b: Uint8Array, known: Uint8Array, length: number): boolean {
  if (known.length !== length) return false;
  for (let i = 0; i < length; i++) if (b[i] !== known[i]) return false;
  return true;
}
