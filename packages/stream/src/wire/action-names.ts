import { strictUtf8 } from './strict-utf8.js';
/** A power of two, so a hash picks a slot with a mask. */
const SLOTS = 64;
const CACHEABLE = 128;

/**
 * Decodes action strings, remembering the names used (a server's connections share one: see
 * ServerConnOptions.actionNames). Callers call a handful of methods over and over, and
 * comparing a few bytes is much cheaper than crossing into the UTF-8 decoder for every
 * request. Direct-mapped: a name has one slot, picked by a hash of a few of its bytes, so a
 * lookup is one compare however many names are remembered, and a service's methods called in
 * rotation keep their slots (a FIFO of fewer slots than methods would miss every time).
 * Throws on invalid UTF-8.
 */
export class ActionNames {
  private readonly bytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(SLOTS).fill(undefined);
  private readonly names: string[] = new Array<string>(SLOTS).fill('');

  /** The name in `b[from, to)`. */
  decode(b: Uint8Array, from = 0, to = b.length): string {
    const length = to - from;
    if (length === 0 || length > CACHEABLE) return strictUtf8.decode(b.subarray(from, to));
    const slot = slotOf(b, from, length);
    const known = this.bytes[slot];
    if (known !== undefined && matches(b, from, known, length)) return this.names[slot]!;
    return this.remember(slot, b, from, to);
  }

  /** A miss: decodes the name and takes its slot. Protected so a test can count misses. */
  protected remember(slot: number, b: Uint8Array, from: number, to: number): string {
    const name = strictUtf8.decode(b.subarray(from, to));
    // A copy: `b` is a received chunk that the cache must not keep alive.
    this.bytes[slot] = b.slice(from, to);
    this.names[slot] = name;
    return name;
  }
}

/**
 * A name's slot from its length and a few bytes: the first, the middle and the last two. Method
 * names of one service share a prefix and differ near the end, so the last bytes carry most of
 * the difference; odd factors keep names that differ by one character in different slots.
 */
function slotOf(b: Uint8Array, from: number, length: number): number {
  const last = b[from + length - 1]!;
  const beforeLast = length > 1 ? b[from + length - 2]! : 0;
  return (length * 37 + b[from]! * 17 + b[from + (length >> 1)]! * 5 + beforeLast * 11 + last) & (SLOTS - 1);
}

/** True when the `length` bytes of `b` from `from` are exactly `known`. */
function matches(b: Uint8Array, from: number, known: Uint8Array, length: number): boolean {
  if (known.length !== length) return false;
  for (let i = 0; i < length; i++) if (b[from + i] !== known[i]) return false;
  return true;
}
