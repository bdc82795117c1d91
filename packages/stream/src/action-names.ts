const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const SLOTS = 16;
const CACHEABLE = 128;

/**
 * Decodes action strings, remembering the last few a connection used. A connection calls a
 * handful of methods over and over, and comparing a few bytes is much cheaper than crossing
 * into the UTF-8 decoder for every request. Throws on invalid UTF-8.
 */
export class ActionNames {
  private readonly bytes: Uint8Array[] = [];
  private readonly names: string[] = [];
  private next = 0;

  /** The name in the first `length` bytes of `b`. */
  decode(b: Uint8Array, length = b.length): string {
    if (length > CACHEABLE) return strictUtf8.decode(b.subarray(0, length));
    for (let i = 0; i < this.bytes.length; i++) if (startsWith(b, this.bytes[i]!, length)) return this.names[i]!;
    const name = strictUtf8.decode(b.subarray(0, length));
    // A copy: `b` is a view into a received chunk that the cache must not keep alive.
    this.bytes[this.next] = b.slice(0, length);
    this.names[this.next] = name;
    this.next = (this.next + 1) % SLOTS;
    return name;
  }
}

/** True when the first `length` bytes of `b` are exactly `known`. */
function startsWith(b: Uint8Array, known: Uint8Array, length: number): boolean {
  if (known.length !== length) return false;
  for (let i = 0; i < length; i++) if (b[i] !== known[i]) return false;
  return true;
}
