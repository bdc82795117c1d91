import { frameBodyLength, type FrameSpec } from '@skein/core';

/** Receives the frame at `bytes[start, end)`; returns false to stop the reader after it (the connection paused). */
export type FrameSink = (bytes: Uint8Array, start: number, end: number) => boolean;

/**
 * An incremental frame parser. A frame that lies inside one received chunk is handed out as its
 * place in that chunk: no copy and no view. Only a frame cut across chunks is assembled, into
 * memory allocated once for it (the whole frame only after `bodyLength` accepted the header).
 * Memory handed out is never reused, so receivers may keep views of it.
 */
export class FrameReader {
  /**
   * A frame cut across chunks, being assembled: its header while `sized` is false, then the
   * whole frame (header copied in first).
   */
  private partial: Uint8Array | undefined;
  private fill = 0;
  private sized = false;
  private halted = false;

  constructor(
    private readonly spec: FrameSpec,
    private readonly sink: FrameSink,
  ) {}

  /** True while part of a frame has arrived and the rest has not. */
  get midFrame(): boolean {
    return this.partial !== undefined;
  }

  /**
   * Parses `chunk` from `from`. Returns where it stopped: the chunk's end, or the end of the
   * frame after which the sink asked to stop. Throws what `bodyLength` or the sink throws.
   */
  push(chunk: Uint8Array, from = 0): number {
    this.halted = false;
    let at = from;
    while (at < chunk.length && !this.halted) {
      at = this.partial === undefined ? this.startFrame(chunk, at) : this.fillPartial(chunk, at);
    }
    return at;
  }

  private startFrame(chunk: Uint8Array, at: number): number {
    const headerLength = this.spec.headerLength;
    if (chunk.length - at < headerLength) return this.assemble(new Uint8Array(headerLength), false, chunk, at);
    const end = at + headerLength + frameBodyLength(this.spec, chunk, at);
    if (end <= chunk.length) {
      if (!this.sink(chunk, at, end)) this.halted = true;
      return end;
    }
    return this.assemble(new Uint8Array(end - at), true, chunk, at);
  }

  private assemble(partial: Uint8Array, sized: boolean, chunk: Uint8Array, at: number): number {
    this.partial = partial;
    this.sized = sized;
    this.fill = 0;
    return this.fillPartial(chunk, at);
  }

  private fillPartial(chunk: Uint8Array, at: number): number {
    const partial = this.partial!;
    const n = Math.min(partial.length - this.fill, chunk.length - at);
    partial.set(chunk.subarray(at, at + n), this.fill);
    this.fill += n;
    if (this.fill < partial.length) return at + n;
    if (!this.sized) {
      // The header is whole: now the frame's size is known.
      const length = partial.length + frameBodyLength(this.spec, partial, 0);
      this.sized = true;
      if (length > partial.length) {
        const frame = new Uint8Array(length);
        frame.set(partial);
        this.partial = frame;
        return at + n;
      }
    }
    this.partial = undefined;
    if (!this.sink(partial, 0, partial.length)) this.halted = true;
    return at + n;
  }
}
