/** Buckets per power of two: a recorded value is read back within 1/64 (1.6 %) of itself. */
const SUB = 64;
const SUB_BITS = 6;
/** Microseconds up to 2^31 (about 36 minutes): far past any call's timeout. */
const MAX_US = 0x7fff_ffff;
const BUCKETS = (31 - SUB_BITS + 1) * SUB;

/**
 * Latencies in fixed memory, however long a benchmark runs: log-linear buckets (as HdrHistogram)
 * of whole microseconds, exact below 64 µs.
 */
export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private n = 0;
  private maxUs = 0;

  get count(): number {
    return this.n;
  }

  /** Records one latency given in milliseconds. */
  record(ms: number): void {
    const us = Math.min(MAX_US, Math.max(0, Math.round(ms * 1000)));
    this.counts[bucketOf(us)]!++;
    this.n++;
    if (us > this.maxUs) this.maxUs = us;
  }

  /** The latency at or below which `p` (0..1) of the calls finished, in ms; 0 when empty. */
  percentileMs(p: number): number {
    if (this.n === 0) return 0;
    const rank = Math.max(1, Math.ceil(p * this.n));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) return Math.min(valueOf(b), this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  get maxMs(): number {
    return this.maxUs / 1000;
  }
}

function bucketOf(us: number): number {
  if (us < SUB) return us;
  const e = 31 - Math.clz32(us); // us is in [2^e, 2^(e+1)), e >= SUB_BITS
  return (e - SUB_BITS + 1) * SUB + ((us >>> (e - SUB_BITS)) - SUB);
}

/** The highest value a bucket holds: percentiles err high, never low. */
function valueOf(b: number): number {
  if (b < SUB) return b;
  const shift = Math.floor(b / SUB) - 1;
  return ((b % SUB) + SUB + 1) * 2 ** shift - 1;
}
