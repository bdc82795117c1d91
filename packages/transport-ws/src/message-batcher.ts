import { RunBatch, SMALL_PART, Slab, frameBodyLength, type FrameSpec } from '@skein/core';

/** Sends one WebSocket message made of `chunks`, in order. */
export type MessageSink = (chunks: Uint8Array[]) => void;

export interface BatcherOptions {
  /** A message is cut at a frame boundary before it grows past this; a bigger frame goes alone. */
  maxBatchBytes: number;
  /**
   * A message goes out as soon as it holds this many whole frames, before the run ends, so the
   * peer starts on the first frames of a long run while the rest are written. Default: no limit.
   */
  batchFrames?: number;
  /** Parts this long or longer are sent by reference; shorter ones are copied when written. */
  copyBelow?: number;
  /** Where short parts are copied. Default: the slab all connections share. */
  slab?: Slab;
}

/** The slab batchers use unless given one: one for all WebSocket connections in the process. */
const sharedSlab = new Slab(64 * 1024);

/**
 * Turns the parts written in one synchronous run into as few WebSocket messages as possible,
 * each holding only whole frames (the receiver splits a message into frames and treats a message
 * that ends mid-frame as an error). It follows frame boundaries with the FrameSpec, so a frame
 * still being written when a flush comes is held back for the next one.
 *
 * The parts are gathered by core's RunBatch: short ones copied into the slab all connections
 * share, long ones by reference, so a message may be several chunks; the socket adapter sends
 * those as fragments of one message where its library allows it.
 */
export class MessageBatcher {
  private maxBatchBytes: number;
  private readonly batchFrames: number;
  /** Whole frames queued since the last flush. */
  private frames = 0;
  /** The parts written and not yet sent, with the end-of-run flush. */
  private readonly batch: RunBatch;
  private queued = 0;
  /** Queued bytes, from the front, that form whole frames. */
  private whole = 0;
  /** Offsets (below `whole`) where a message must end so it stays under maxBatchBytes. */
  private cuts: number[] = [];
  private messageStart = 0;
  private readonly scratch: Uint8Array;
  private scratchFill = 0;
  /** Body bytes still to come for the frame being written; 0 while reading a header. */
  private bodyLeft = 0;

  constructor(
    private readonly spec: FrameSpec,
    private readonly sink: MessageSink,
    options: BatcherOptions,
  ) {
    this.maxBatchBytes = options.maxBatchBytes;
    this.batchFrames = options.batchFrames ?? Infinity;
    // Below SMALL_PART the contract promises a copy, whatever the configured threshold.
    const copyBelow = Math.max(options.copyBelow ?? 16 * 1024, SMALL_PART);
    this.batch = new RunBatch(options.slab ?? sharedSlab, copyBelow, () => this.flush());
    this.scratch = new Uint8Array(spec.headerLength);
  }

  /** Bytes written and not yet handed to the sink. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Slab bytes this batcher keeps reserved: 0 after a flush, so an idle connection holds none. */
  get heldBytes(): number {
    return this.batch.heldBytes;
  }

  /** Queues a part; throws if it completes a header the FrameSpec rejects. */
  write(part: Uint8Array): void {
    if (part.length === 0) return;
    const at = this.queued;
    this.batch.add(part);
    this.queued += part.length;
    // Tracked after it is queued: if a header in it is rejected, the whole frames before it are
    // queued and counted, so a flush (the connection's last words) sends exactly those.
    this.track(part, at);
    if (this.frames >= this.batchFrames) this.flush();
  }

  /** Hands every whole frame queued so far to the sink. */
  flush(): void {
    if (this.whole === 0) return this.batch.seal();
    this.frames = 0;
    this.cuts.push(this.whole);
    const messages = this.batch.takeSplit(this.cuts);
    this.queued -= this.whole;
    this.whole = 0;
    this.cuts.length = 0;
    this.messageStart = 0;
    for (const m of messages) this.sink(m);
  }

  /**
   * Lowers the most bytes of one message to `bytes` (never raises it): the peer closes the
   * connection on a larger message (its maxWsMessageBytes). Cuts already made stand; frames
   * written from now on are cut by it. One compare a frame, as before.
   */
  capMessages(bytes: number): void {
    if (bytes < this.maxBatchBytes) this.maxBatchBytes = bytes;
  }

  /** The writer goes on right after an await: the message may wait for the end of the macrotask (RunBatch.defer). */
  defer(): void {
    this.batch.defer();
  }

  /** Drops everything queued (the connection is gone). */
  discard(): void {
    this.batch.discard();
    this.queued = this.whole = this.messageStart = this.frames = 0;
    this.cuts = [];
    this.scratchFill = this.bodyLeft = 0;
  }

  /** Follows frame boundaries through `part`, which starts at queue offset `at`. */
  private track(part: Uint8Array, at: number): void {
    const n = part.length;
    let pos = 0;
    while (pos < n) {
      if (this.bodyLeft > 0) {
        const k = Math.min(this.bodyLeft, n - pos);
        pos += k;
        this.bodyLeft -= k;
        if (this.bodyLeft === 0) this.frameEnd(at + pos);
        continue;
      }
      pos = this.readHeader(part, pos);
      // The part ended inside a header: the rest of it comes with the next part.
      if (this.scratchFill !== 0) return;
      if (this.bodyLeft === 0) this.frameEnd(at + pos);
    }
  }

  /**
   * Reads the header at `pos` and sets `bodyLeft` from it: in place when `part` holds all of it
   * (this runs once per outgoing frame, so no view), else gathered in scratch across parts.
   * Returns where the bytes it used end in `part`.
   */
  private readHeader(part: Uint8Array, pos: number): number {
    const hl = this.scratch.length;
    if (this.scratchFill === 0 && part.length - pos >= hl) {
      this.bodyLeft = frameBodyLength(this.spec, part, pos);
      return pos + hl;
    }
    const k = Math.min(hl - this.scratchFill, part.length - pos);
    this.scratch.set(part.subarray(pos, pos + k), this.scratchFill);
    this.scratchFill += k;
    if (this.scratchFill === hl) {
      this.scratchFill = 0;
      this.bodyLeft = frameBodyLength(this.spec, this.scratch, 0);
    }
    return pos + k;
  }

  private frameEnd(end: number): void {
    this.frames++;
    if (end - this.messageStart > this.maxBatchBytes && this.whole > this.messageStart) {
      this.cuts.push(this.whole);
      this.messageStart = this.whole;
    }
    this.whole = end;
  }
}
