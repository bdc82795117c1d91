import { frameBodyLength, type FrameSpec } from '@skein/core';
import { FrameAssembly } from './frame-assembly.js';
import type { PendingFrameBudget } from './pending-frame-budget.js';

/** Receives the frame at `bytes[start, end)`; returns false to stop the reader after it (the connection paused). */
export type FrameSink = (bytes: Uint8Array, start: number, end: number) => boolean;

/**
 * An incremental frame parser. A frame that lies inside one received chunk is handed out as its
 * place in that chunk: no copy and no view. Only a frame cut across chunks is assembled, in
 * memory that grows with the bytes that arrived (see FrameAssembly), charged to the budget
 * while the frame is incomplete. Memory handed out is never reused, so receivers may keep
 * views of it.
 */
export class FrameReader {
  private readonly assembly: FrameAssembly;
  /** The assembly holds a header cut across chunks: the frame's length is not known yet. */
  private sizing = false;
  private halted = false;

  constructor(
    private readonly spec: FrameSpec,
    budget: PendingFrameBudget,
    private readonly sink: FrameSink,
  ) {
    this.assembly = new FrameAssembly(budget);
  }

  /** True while part of a frame has arrived and the rest has not. */
  get midFrame(): boolean {
    return this.assembly.active;
  }

  /**
   * Parses `chunk` from `from`. Returns where it stopped: the chunk's end, or the end of the
   * frame after which the sink asked to stop. Throws what `bodyLength` or the sink throws, and
   * the budget's FrameError.
   */
  push(chunk: Uint8Array, from = 0): number {
    this.halted = false;
    let at = from;
    while (at < chunk.length && !this.halted) {
      at = this.assembly.active ? this.assemble(chunk, at) : this.startFrame(chunk, at);
    }
    return at;
  }

  /** Drops a partly received frame, giving its memory back to the budget: the connection is gone. */
  discard(): void {
    this.assembly.discard();
    this.sizing = false;
  }

  private startFrame(chunk: Uint8Array, at: number): number {
    const headerLength = this.spec.headerLength;
    if (chunk.length - at < headerLength) {
      this.sizing = true;
      this.assembly.start(headerLength);
      return this.assemble(chunk, at);
    }
    const end = at + headerLength + frameBodyLength(this.spec, chunk, at);
    if (end <= chunk.length) {
      if (!this.sink(chunk, at, end)) this.halted = true;
      return end;
    }
    this.assembly.start(end - at);
    return this.assemble(chunk, at);
  }

  private assemble(chunk: Uint8Array, at: number): number {
    const next = this.assembly.add(chunk, at, chunk.length);
    if (!this.assembly.complete) return next;
    const bytes = this.assembly.take();
    if (this.sizing) {
      this.sizing = false;
      if (this.sized(bytes)) return next;
    }
    if (!this.sink(bytes, 0, bytes.length)) this.halted = true;
    return next;
  }

  /**
   * The header of a frame cut inside its header is whole, so the frame's length is known now:
   * the header starts the frame's assembly, unless the frame is the header alone (false).
   */
  private sized(header: Uint8Array): boolean {
    const length = header.length + frameBodyLength(this.spec, header, 0);
    if (length === header.length) return false;
    this.assembly.start(length);
    this.assembly.add(header, 0, header.length);
    return true;
  }
}
