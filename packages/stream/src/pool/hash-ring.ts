/** A server's points on the ring: `vnodes × weight` of them. Default 160 per unit of weight. */
export const DEFAULT_VNODES = 160;

interface Point {
  readonly hash: number;
  readonly address: string;
}

/**
 * Consistent hashing: every server owns many points (virtual nodes) on a 32-bit ring, and a key
 * belongs to the first point at or after its own hash. A server that joins takes over only the
 * arcs in front of its own points, so about 1/n of the keys move, all of them to it; one that
 * leaves hands only its own keys to the next points.
 */
export class HashRing {
  private points: Point[] = [];

  constructor(private readonly vnodes = DEFAULT_VNODES) {}

  /** Rebuilds the ring for these servers. */
  set(servers: readonly { readonly address: string; readonly weight: number }[]): void {
    const points: Point[] = [];
    for (const { address, weight } of servers) {
      const n = Math.max(1, Math.round(this.vnodes * weight));
      for (let i = 0; i < n; i++) points.push({ hash: hash32(`${address}#${i}`), address });
    }
    // Ties (vanishingly rare) are broken by address, so every client builds the same ring.
    points.sort((a, b) => a.hash - b.hash || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    this.points = points;
  }

  /**
   * The owner of `key`: the first server clockwise from the key's hash that `accept` takes (a
   * server skipped as unhealthy or already tried hands the key to the next one on the ring).
   */
  lookup(key: string, accept: (address: string) => boolean): string | undefined {
    const points = this.points;
    const n = points.length;
    if (n === 0) return undefined;
    const start = this.firstAtOrAfter(hash32(key));
    let last: string | undefined;
    for (let i = 0; i < n; i++) {
      const { address } = points[(start + i) % n]!;
      if (address === last) continue; // consecutive points of one server: asked once
      if (accept(address)) return address;
      last = address;
    }
    return undefined;
  }

  private firstAtOrAfter(h: number): number {
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]!.hash < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.points.length ? 0 : lo;
  }
}

/**
 * A 32-bit string hash: FNV-1a over the UTF-16 code units, then murmur3's finalizer so that
 * keys differing in one character ("user-1", "user-2") land far apart on the ring.
 */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), 0x01000193);
    h = Math.imul(h ^ (c >>> 8), 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
