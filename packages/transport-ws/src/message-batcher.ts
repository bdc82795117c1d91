import { SMALL_PART, type FrameSpec } from '@skein/core';
import { bodyLength } from './message-reader.js';

/** Sends one WebSocket message made of `chunks`, in order. */
export type MessageSink = (chunks: Uint8Array[]) => void;

export interface BatcherOptions {
  /** A message is cut at a frame boundary before it grows past this; a bigger frame goes alone. */
  batchBytes: number;
  /**
   * A message goes out as soon as it holds this many whole frames, before the run ends, so the
   * peer starts on the first frames of a long run while the rest are written. Default: no limit.
   */
  batchFrames?: number;
  /** Parts this long or longer are sent by reference; shorter ones are copied when written. */
  copyBelow?: number;
  /** Size of the buffers short parts are copied into. */
  slabBytes?: number;
}

const EMPTY = new Uint8Array(0);

/**
 * Turns the parts written in one synchronous run into as few WebSocket messages as possible,
 * each holding only whole frames (the receiver splits a message into frames and treats a message
 * that ends mid-frame as an error). It follows frame boundaries with the FrameSpec, so a frame
 * still being written when a flush comes is held back for the next one.
 *
 * Short parts are copied into a slab when written: the caller may reuse them at once, and a run
 * of small frames becomes one contiguous chunk. Long parts are queued by reference (the contract
 * says the caller leaves them alone), so a message may be several chunks; the socket adapter
 * sends those as fragments of one message where its library allows it.
 */
export class MessageBatcher {
  private readonly batchBytes: number;
  private readonly batchFrames: number;
  /** Whole frames queued since the last flush. */
  private frames = 0;
  private readonly copyBelow: number;
  private readonly slabBytes: number;
  /** Sealed chunks, oldest first; the open slab region [open, fill) comes after them. */
  private chunks: Uint8Array[] = [];
  private slab = EMPTY;
  private fill = 0;
  private open = 0;
  private queued = 0;
  /** Queued bytes, from the front, that form whole frames. */
  private whole = 0;
  /** Offsets (below `whole`) where a message must end so it stays under batchBytes. */
  private cuts: number[] = [];
  private messageStart = 0;
  private readonly scratch: Uint8Array;
  private scratchFill = 0;
  /** Body bytes still to come for the frame being written; 0 while reading a header. */
  private bodyLeft = 0;
  private scheduled = false;

  constructor(
    private readonly spec: FrameSpec,
    private readonly sink: MessageSink,
    options: BatcherOptions,
  ) {
    this.batchBytes = options.batchBytes;
    this.batchFrames = options.batchFrames ?? Infinity;
    this.copyBelow = options.copyBelow ?? 16 * 1024;
    this.slabBytes = options.slabBytes ?? 64 * 1024;
    this.scratch = new Uint8Array(spec.headerLength);
  }

  /** Bytes written and not yet handed to the sink. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Queues a part; throws if it completes a header the FrameSpec rejects. */
  write(part: Uint8Array): void {
    if (part.length === 0) return;
    this.track(part);
    // Below SMALL_PART the contract promises a copy, whatever the configured threshold.
    if (part.length >= this.copyBelow && part.length >= SMALL_PART) {
      this.seal();
      this.chunks.push(part);
    } else {
      this.copy(part);
    }
    this.queued += part.length;
    if (this.frames >= this.batchFrames) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      // A microtask runs when the current synchronous run is over: that run is the batch.
      queueMicrotask(this.onRunEnd);
    }
  }

  /** Hands every whole frame queued so far to the sink. */
  flush(): void {
    this.seal();
    if (this.whole === 0) return;
    this.frames = 0;
    const messages = this.take([...this.cuts, this.whole]);
    this.queued -= this.whole;
    this.whole = 0;
    this.cuts = [];
    this.messageStart = 0;
    for (const m of messages) this.sink(m);
  }

  /** Drops everything queued (the connection is gone). */
  discard(): void {
    this.chunks = [];
    this.slab = EMPTY;
    this.fill = this.open = this.queued = this.whole = this.messageStart = this.frames = 0;
    this.cuts = [];
    this.scratchFill = this.bodyLeft = 0;
  }

  private readonly onRunEnd = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /** Follows frame boundaries through `part`, which starts at queue offset `this.queued`. */
  private track(part: Uint8Array): void {
    const n = part.length;
    let pos = 0;
    while (pos < n) {
      if (this.bodyLeft > 0) {
        const k = Math.min(this.bodyLeft, n - pos);
        pos += k;
        this.bodyLeft -= k;
        if (this.bodyLeft === 0) this.frameEnd(this.queued + pos);
        continue;
      }
      const header = this.readHeader(part, pos);
      pos += header.used;
      if (!header.bytes) return;
      this.bodyLeft = bodyLength(this.spec, header.bytes);
      if (this.bodyLeft === 0) this.frameEnd(this.queued + pos);
    }
  }

  /** The next header, viewed in place when `part` holds all of it, else gathered in scratch. */
  private readHeader(part: Uint8Array, pos: number): { bytes?: Uint8Array; used: number } {
    const hl = this.scratch.length;
    if (this.scratchFill === 0 && part.length - pos >= hl) return { bytes: part.subarray(pos, pos + hl), used: hl };
    const k = Math.min(hl - this.scratchFill, part.length - pos);
    this.scratch.set(part.subarray(pos, pos + k), this.scratchFill);
    this.scratchFill += k;
    if (this.scratchFill < hl) return { used: k };
    this.scratchFill = 0;
    return { bytes: this.scratch, used: k };
  }

  private frameEnd(end: number): void {
    this.frames++;
    if (end - this.messageStart > this.batchBytes && this.whole > this.messageStart) {
      this.cuts.push(this.whole);
      this.messageStart = this.whole;
    }
    this.whole = end;
  }

  private copy(part: Uint8Array): void {
    if (this.slab.length - this.fill < part.length) {
      this.seal();
      // A fresh slab: bytes already handed out in the old one are never written again.
      this.slab = new Uint8Array(Math.max(this.slabBytes, part.length));
      this.fill = this.open = 0;
    }
    this.slab.set(part, this.fill);
    this.fill += part.length;
  }

  private seal(): void {
    if (this.fill === this.open) return;
    this.chunks.push(this.slab.subarray(this.open, this.fill));
    this.open = this.fill;
  }

  /** Removes the queue's first `ends[last]` bytes, as one chunk list per message. */
  private take(ends: number[]): Uint8Array[][] {
    const chunks = this.chunks;
    const out: Uint8Array[][] = [];
    let i = 0;
    let off = 0;
    for (const end of ends) {
      const message: Uint8Array[] = [];
      while (off < end) {
        const c = chunks[i]!;
        const n = Math.min(c.length, end - off);
        if (n === c.length) i++;
        else chunks[i] = c.subarray(n);
        append(message, n === c.length ? c : c.subarray(0, n));
        off += n;
      }
      out.push(message);
    }
    this.chunks = chunks.slice(i);
    return out;
  }
}

/** Adds `c` to a message, merging it with the previous chunk when they are adjacent in memory. */
function append(message: Uint8Array[], c: Uint8Array): void {
  const last = message[message.length - 1];
  if (last && last.buffer === c.buffer && last.byteOffset + last.length === c.byteOffset) {
    message[message.length - 1] = new Uint8Array(c.buffer, last.byteOffset, last.length + c.length);
  } else {
    message.push(c);
  }
}
