/** A connection in a burst, or whose last burst brought QUIET_BELOW or more, reads into a region of this size. */
const LARGE_REGION = 64 * 1024;
/**
 * A quiet one (its last burst brought less than QUIET_BELOW) into one of this size: an idle
 * connection always has a read pending, and the read holds its region until bytes come.
 */
const SMALL_REGION = 4 * 1024;
const QUIET_BELOW = SMALL_REGION / 4;

/**
 * Where a connection's reads land. Reads go one after the other into a region, and each chunk is
 * handed on as a view of it: no copy and no allocation per read. A chunk the receiver keeps keeps
 * its region alive, but a region is left only once received bytes fill all but a quarter of it,
 * so what is held grows with the bytes received, as a copy per read would.
 *
 * Deno's read holds its buffer while it waits, so an idle connection holds the region of the
 * read it waits in. A burst is the reads up to one that does not fill its buffer (the kernel had
 * no more): after a burst of less than QUIET_BELOW (a quiet connection, or an idle one) reads go
 * into a small region; during a burst, and after one of QUIET_BELOW or more, into a large one, so
 * that a connection whose messages are larger reads each in one go. A connection that changes
 * pace leaves what remains of its region for the other size.
 */
export class ReadRegions {
  private region: Uint8Array | undefined;
  private at = 0;
  private busy = false;
  /** Bytes of the burst so far. */
  private burst = 0;

  /** Where the next read goes: the rest of the current region, or a fresh one. */
  next(): Uint8Array {
    const size = this.busy ? LARGE_REGION : SMALL_REGION;
    let region = this.region;
    if (region === undefined || region.length !== size || region.length - this.at < size / 4) {
      region = this.region = new Uint8Array(size);
      this.at = 0;
    }
    return this.at === 0 ? region : region.subarray(this.at);
  }

  /**
   * The `n` bytes the read into `next()`'s buffer brought, for the receiver to own: that part of
   * the region is never read into again, so it is handed on uncopied.
   */
  take(n: number): Uint8Array {
    const region = this.region!;
    const at = this.at;
    this.burst += n;
    if (n === region.length - at) {
      this.busy = true;
    } else {
      this.busy = this.burst >= QUIET_BELOW;
      this.burst = 0;
    }
    this.at = at + n;
    return region.subarray(at, at + n);
  }
}
