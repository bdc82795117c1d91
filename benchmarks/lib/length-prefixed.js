/**
 * Incremental parser for u32-LE length + payload frames, the raw echo's whole protocol. A frame
 * inside one chunk is handed out as a view of it (no copy); a frame cut across chunks is
 * assembled once into memory of its own. That is the same work Skein's frame reader does, so
 * the baseline is as lean as a real server, not leaner: it never streams a half-read frame on.
 * `onFrame` gets the whole frame, header included, ready to be written back as it is.
 */
export class LengthPrefixedParser {
  /** The frame being assembled across chunks, and how much of it has arrived. */
  partial = null;
  filled = 0;
  /** Up to 3 header bytes cut off at the end of a chunk. */
  headerBytes = null;

  constructor(onFrame) {
    this.onFrame = onFrame;
  }

  push(chunk) {
    let at = 0;
    if (this.headerBytes) {
      chunk = Buffer.concat([this.headerBytes, chunk]);
      this.headerBytes = null;
    }
    if (this.partial) at = this.fill(chunk);
    while (at < chunk.length) {
      if (chunk.length - at < 4) {
        this.headerBytes = chunk.subarray(at);
        return;
      }
      const end = at + 4 + chunk.readUInt32LE(at);
      if (end <= chunk.length) {
        this.onFrame(chunk.subarray(at, end));
        at = end;
      } else {
        this.partial = Buffer.allocUnsafe(end - at);
        this.filled = 0;
        at = this.fill(chunk, at);
      }
    }
  }

  /** Copies what `chunk` holds of the partial frame from `from`; returns where it stopped. */
  fill(chunk, from = 0) {
    const n = Math.min(this.partial.length - this.filled, chunk.length - from);
    chunk.copy(this.partial, this.filled, from, from + n);
    this.filled += n;
    if (this.filled === this.partial.length) {
      const frame = this.partial;
      this.partial = null;
      this.onFrame(frame);
    }
    return from + n;
  }
}
