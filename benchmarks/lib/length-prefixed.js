/**
 * Incremental parser for u32-LE length + payload frames, the raw echo server's whole protocol.
 * Whole frames that lie one after another in a chunk are handed out together, as one view of it
 * (no copy): an echo writes them back in one write, as the C echo does. A frame cut across
 * chunks is assembled once into memory of its own, as Skein's frame reader does, and handed out
 * alone. `onFrames` gets whole frames, headers included, ready to be written back as they are.
 */
export class LengthPrefixedParser {
  /** The frame being assembled across chunks, and how much of it has arrived. */
  partial = null;
  filled = 0;
  /** Up to 3 header bytes cut off at the end of a chunk. */
  headerBytes = null;

  constructor(onFrames) {
    this.onFrames = onFrames;
  }

  push(chunk) {
    let at = 0;
    if (this.headerBytes) {
      chunk = Buffer.concat([this.headerBytes, chunk]);
      this.headerBytes = null;
    }
    if (this.partial) at = this.fill(chunk);
    const runStart = at;
    while (at < chunk.length) {
      if (chunk.length - at < 4) {
        this.headerBytes = chunk.subarray(at);
        break;
      }
      const end = at + 4 + chunk.readUInt32LE(at);
      if (end > chunk.length) {
        if (at > runStart) this.onFrames(chunk.subarray(runStart, at));
        this.partial = Buffer.allocUnsafe(end - at);
        this.filled = 0;
        this.fill(chunk, at);
        return;
      }
      at = end;
    }
    if (at > runStart) this.onFrames(chunk.subarray(runStart, at));
  }

  /** Copies what `chunk` holds of the partial frame from `from`; returns where it stopped. */
  fill(chunk, from = 0) {
    const n = Math.min(this.partial.length - this.filled, chunk.length - from);
    chunk.copy(this.partial, this.filled, from, from + n);
    this.filled += n;
    if (this.filled === this.partial.length) {
      const frame = this.partial;
      this.partial = null;
      this.onFrames(frame);
    }
    return from + n;
  }
}
