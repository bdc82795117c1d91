import { frameBodyLength, type FrameSpec } from '@skein/core';

/** Receives one frame; returns false to stop the reader after it (the connection paused). */
export type FrameSink = (header: Uint8Array, body: Uint8Array) => boolean;

/**
 * An incremental frame parser. A frame that lies inside one received chunk is handed out as
 * views of that chunk, with no copy; only a frame cut across chunks is assembled, into memory
 * allocated once for it (the body only after `bodyLength` accepted the header). Memory handed
 * out is never reused, so receivers may keep the views.
 */
export class FrameReader {
  /** A header cut across chunks, being assembled. */
  private header: Uint8Array | undefined;
  private headerFill = 0;
  /** A body cut across chunks, being assembled, and the header it belongs to. */
  private body: Uint8Array | undefined;
  private bodyFill = 0;
  private bodyHeader: Uint8Array | undefined;
  private halted = false;

  constructor(
    private readonly spec: FrameSpec,
    private readonly sink: FrameSink,
  ) {}

  /** True while part of a frame has arrived and the rest has not. */
  get midFrame(): boolean {
    return this.header !== undefined || this.body !== undefined;
  }

  /**
   * Parses `chunk` from `from`. Returns where it stopped: the chunk's end, or the end of the
   * frame after which the sink asked to stop. Throws what `bodyLength` or the sink throws.
   */
  push(chunk: Uint8Array, from = 0): number {
    this.halted = false;
    let at = from;
    while (at < chunk.length && !this.halted) {
      if (this.header !== undefined) at = this.fillHeader(chunk, at);
      else if (this.body !== undefined) at = this.fillBody(chunk, at);
      else at = this.startFrame(chunk, at);
    }
    return at;
  }

  private startFrame(chunk: Uint8Array, at: number): number {
    const headerEnd = at + this.spec.headerLength;
    if (headerEnd > chunk.length) {
      this.header = new Uint8Array(this.spec.headerLength);
      this.headerFill = 0;
      return this.fillHeader(chunk, at);
    }
    return this.afterHeader(chunk.subarray(at, headerEnd), chunk, headerEnd);
  }

  private fillHeader(chunk: Uint8Array, at: number): number {
    const header = this.header!;
    const n = Math.min(header.length - this.headerFill, chunk.length - at);
    header.set(chunk.subarray(at, at + n), this.headerFill);
    this.headerFill += n;
    if (this.headerFill < header.length) return at + n;
    this.header = undefined;
    return this.afterHeader(header, chunk, at + n);
  }

  /** The header is whole; the body starts at `at`, in this chunk or a later one. */
  private afterHeader(header: Uint8Array, chunk: Uint8Array, at: number): number {
    const length = frameBodyLength(this.spec, header);
    const bodyEnd = at + length;
    if (bodyEnd <= chunk.length) {
      this.deliver(header, chunk.subarray(at, bodyEnd));
      return bodyEnd;
    }
    this.bodyHeader = header;
    this.body = new Uint8Array(length);
    this.bodyFill = 0;
    return this.fillBody(chunk, at);
  }

  private fillBody(chunk: Uint8Array, at: number): number {
    const body = this.body!;
    const n = Math.min(body.length - this.bodyFill, chunk.length - at);
    body.set(chunk.subarray(at, at + n), this.bodyFill);
    this.bodyFill += n;
    if (this.bodyFill < body.length) return at + n;
    const header = this.bodyHeader!;
    this.body = this.bodyHeader = undefined;
    this.deliver(header, body);
    return at + n;
  }

  private deliver(header: Uint8Array, body: Uint8Array): void {
    if (!this.sink(header, body)) this.halted = true;
  }
}
