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

  decode(b: Uint8Array): string {
    if (b.length > CACHEABLE) return strictUtf8.decode(b);
    for (let i = 0; i < this.bytes.length; i++) if (same(this.bytes[i]!, b)) return this.names[i]!;
    const name = strictUtf8.decode(b);
    // A copy: `b` is a view into a received chunk that the cache must not keep alive.
    this.bytes[this.next] = b.slice();
    this.names[this.next] = name;
    this.next = (this.next + 1) % SLOTS;
    return name;
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
