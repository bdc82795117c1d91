import { EMPTY_BYTES, SMALL_PART } from '@skein/core';

/**
 * The size of the chunks small parts are copied into: as small as V8 keeps a typed array on its
 * heap. A larger one has a backing store of its own, which costs more than the copies (one
 * growing buffer, 64 bytes then fourfold, took a stream of 8 items of 32 B 1.9 µs to keep;
 * chunks of 64 bytes 0.8 µs, one-off measurements). A part fills a chunk's rest or starts a new
 * one, so chunks waste less than half of their bytes for any part size.
 */
const CHUNK = 64;
/** A part's entry in `lengths` when the part itself is in `referenced`. */
const REFERENCED = -1;

/**
 * The items a pooled stream wrote while its server had said nothing (no item, no credit: its
 * handler cannot have run), kept so that the pool can write them again, in order, where it
 * opens the stream next (StreamCall's replay). Bytes as the transport treats them: a part under
 * SMALL_PART is copied here, as `FrameConn.write` copies it (its writer may reuse that buffer at
 * once); a larger one is kept by reference, as the transport may send it from the writer's
 * buffer (which is not to be modified afterwards anyway). So a kept item costs two small
 * integers in an array and, for small parts, a copy into the stream's chunks: no object per
 * item, and memory within a small multiple of the credit the items cost (their headers count).
 *
 * `bytes` counts items as credit does (`itemCost`): the stream stops keeping past its cap.
 */
export class KeptWrites {
  /** Per item, msg then blob: a copied part's length (its bytes in `chunks`, in order), or REFERENCED. */
  private readonly lengths: number[] = [];
  /** The parts of SMALL_PART and more, in order. */
  private readonly referenced: Uint8Array[] = [];
  /** The copied parts' bytes, in order; the last one filled to `packedEnd`. */
  private readonly chunks: Uint8Array[] = [];
  private packedEnd = 0;
  /** Credit the kept items cost. */
  bytes = 0;
  /** The replay's place: the next part, its chunk and where in it, the next referenced one. */
  private at = 0;
  private chunkAt = -1;
  private offset = 0;
  private referencedAt = 0;

  /** Items kept. */
  get size(): number {
    return this.lengths.length >> 1;
  }

  /** True while items are left to write again (after `rewind`). */
  get pending(): boolean {
    return this.at < this.lengths.length;
  }

  /** One item written, costing `cost` credit. */
  add(msg: Uint8Array, blob: Uint8Array, cost: number): void {
    this.bytes += cost;
    this.lengths.push(this.keep(msg), this.keep(blob));
  }

  /** From the first item again: a new attempt writes them all. */
  rewind(): void {
    this.at = 0;
    this.chunkAt = -1;
    this.offset = 0;
    this.referencedAt = 0;
  }

  /** The next part to write again (an item is its msg, then its blob): a view of a chunk for a copied one. */
  take(): Uint8Array {
    const n = this.lengths[this.at++]!;
    if (n === REFERENCED) return this.referenced[this.referencedAt++]!;
    if (n === 0) return EMPTY_BYTES;
    // As `keep` placed it: the rest of the chunk, else the next one.
    if (this.chunkAt < 0 || this.offset + n > this.chunks[this.chunkAt]!.length) {
      this.chunkAt++;
      this.offset = 0;
    }
    const from = this.offset;
    this.offset += n;
    return this.chunks[this.chunkAt]!.subarray(from, from + n);
  }

  private keep(part: Uint8Array): number {
    const n = part.length;
    if (n >= SMALL_PART) {
      this.referenced.push(part);
      return REFERENCED;
    }
    if (n === 0) return 0;
    let chunk = this.chunks[this.chunks.length - 1];
    if (chunk === undefined || this.packedEnd + n > chunk.length) {
      chunk = new Uint8Array(Math.max(CHUNK, n));
      this.chunks.push(chunk);
      this.packedEnd = 0;
    }
    chunk.set(part, this.packedEnd);
    this.packedEnd += n;
    return n;
  }
}
