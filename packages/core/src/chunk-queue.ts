// For runtimes whose socket write may take only part of the data (Bun, Deno): the queue of what
// is left, shared so that each adapter stays small.

/** Parts below this size are joined with their neighbours: a batch of small frames costs one system call. */
const JOIN_BELOW = 16 * 1024;
/** A joined piece stays below this, so that joining copies little. */
const JOIN_UP_TO = 64 * 1024;

/**
 * Bytes waiting to be sent, in order. Large chunks go out from the caller's buffer uncopied
 * (ByteConn.write promises that); runs of small ones are joined into one piece. Chunks that
 * follow each other in memory (a transport's batches from one slab run) are joined as one view,
 * with no copy.
 */
export class ChunkQueue {
  private chunks: Uint8Array[] = [];
  /** Bytes queued. */
  bytes = 0;

  get empty(): boolean {
    return this.chunks.length === 0;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    appendChunk(this.chunks, chunk);
    this.bytes += chunk.length;
  }

  /** Removes and returns the next piece to send: the head chunk, joined with the small ones behind it if it is small. */
  take(): Uint8Array {
    const first = this.chunks.shift()!;
    let size = first.length;
    let n = 0;
    if (first.length < JOIN_BELOW) {
      while (n < this.chunks.length && this.chunks[n].length < JOIN_BELOW && size + this.chunks[n].length <= JOIN_UP_TO) {
        size += this.chunks[n++].length;
      }
    }
    this.bytes -= size;
    if (n === 0) return first;
    const piece = new Uint8Array(size);
    piece.set(first);
    let offset = first.length;
    for (const c of this.chunks.splice(0, n)) {
      piece.set(c, offset);
      offset += c.length;
    }
    return piece;
  }

  /** Puts back the part of a piece that the socket did not take. */
  putBack(rest: Uint8Array): void {
    this.chunks.unshift(rest);
    this.bytes += rest.length;
  }

  clear(): void {
    this.chunks = [];
    this.bytes = 0;
  }
}

/**
 * Adds `chunk` to a list of chunks sent in order, as one view with the last one when they are
 * adjacent in the same memory: no copy, and one piece less to send.
 */
export function appendChunk(chunks: Uint8Array[], chunk: Uint8Array): void {
  const last = chunks[chunks.length - 1];
  if (last && last.buffer === chunk.buffer && last.byteOffset + last.length === chunk.byteOffset) {
    chunks[chunks.length - 1] = new Uint8Array(chunk.buffer, last.byteOffset, last.length + chunk.length);
  } else {
    chunks.push(chunk);
  }
}
