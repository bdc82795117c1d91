import { afterMacrotask, uninitializedBytes } from '@skein/core';
import type { BudgetWaiter, PendingFrameBudget } from './pending-frame-budget.js';

/** Told when an assembly that waited for room has it: the piece it stopped at goes in now. */
export interface RoomListener {
  roomGiven?(): void;
}

/**
 * Pieces of a frame shorter than this are copied into blocks of this size, so that a peer
 * dribbling bytes costs about a byte per byte, not a kept view and chunk per byte; longer pieces
 * are kept where they arrived (received chunks are ours for good), when they are most of the
 * memory their chunk is a view of (a view holds all of it). A frame up to this long is
 * assembled in one block of its exact size, which is handed out as it is: one allocation and one
 * copy, as when frames were allocated whole from their header.
 */
export const BLOCK_BYTES = 4096;

/**
 * What one macrotask copies of a long frame's backlog besides the chunks' shares (see `slice`).
 * Half of what one read batch brings on Node (libuv reads up to 32 chunks of 64 KiB in one go,
 * and past half of a frame each brings along about as much again of the backlog): so a slice's
 * turn is shorter than a batch's, about 3 ms into fresh memory on a 2-core VM, and the backlog of
 * a stalled 8 MiB frame is gone in 4 turns (of a 48 MiB one, 24).
 */
export const SLICE_BYTES = 1024 * 1024;

/**
 * One frame cut across chunks, collected as it arrives, in memory that grows with the bytes
 * received, never with the length its header claims. What it holds is charged to the budget:
 * the pieces it keeps and the blocks it fills, at most twice what arrived plus one block (a
 * block is closed early only by a piece longer than the room left in it). Its pieces are copied
 * once into memory of its size: a short frame's when it is whole, a long one's a share at a
 * time as its second half arrives and a slice per macrotask besides, so no turn copies more than
 * in proportion to what it received or a slice, and a stalled peer's pieces are not held beside
 * that memory for more than a few turns.
 */
export class FrameAssembly implements BudgetWaiter {
  /** Pieces in order, kept or filled blocks; `block` comes after them. */
  private readonly pieces: Uint8Array[] = [];
  private block: Uint8Array | undefined;
  private blockFill = 0;
  /** The frame's own memory, made once half of a long frame is here: the rest is copied straight in. */
  private whole: Uint8Array | undefined;
  /**
   * Bytes of `pieces` not yet copied into `whole`: they are its first `backlog` bytes, and each
   * piece that arrives once `whole` is made takes a share of them along (see `catchUp`).
   */
  private backlog = 0;
  /** The frame's length; 0 while idle (a frame has a header, so is never empty). */
  private length = 0;
  private received = 0;
  /** Bytes charged to the budget. */
  private held = 0;
  /**
   * Counts the frames that made `whole`: a slice scheduled for one finds another count here once
   * that frame is taken or discarded, and does nothing (a flag that the next frame set again would not do).
   */
  private generation = 0;
  /** Room the budget took for this while it waited, not yet charged to a piece: counted in `held`. */
  private prepaid = 0;
  /** In the budget's queue: a piece did not fit, and `add` takes nothing until room is given. */
  private queued = false;

  constructor(
    private readonly budget: PendingFrameBudget,
    /** Told when room is given after a wait: its connection reads on. */
    private readonly listener: RoomListener,
  ) {}

  get active(): boolean {
    return this.length > 0;
  }

  /** Waiting for room in the budget: the last `add` took nothing. */
  get waiting(): boolean {
    return this.queued;
  }

  get complete(): boolean {
    return this.received === this.length;
  }

  /** A frame of `length` bytes begins, or (a header whole) what is held is found to begin one so long. */
  start(length: number): void {
    this.length = length;
  }

  /** What arrived so far, in memory of its own (the block it fills, when it is all in one): a header, short. */
  peek(): Uint8Array {
    const block = this.block;
    if (this.pieces.length === 0 && block !== undefined && this.blockFill === this.received) return block.subarray(0, this.blockFill);
    const bytes = new Uint8Array(this.received);
    let at = 0;
    for (const piece of this.pieces) {
      bytes.set(piece, at);
      at += piece.length;
    }
    if (block !== undefined) bytes.set(block.subarray(0, this.blockFill), at);
    return bytes;
  }

  /**
   * Takes what of `bytes[at, end)` belongs to the frame; returns where that stops, or `at`,
   * taking nothing, when the piece does not fit in the budget now (`waiting`: the listener is
   * told when it does, and the same piece is added again). Throws the budget's FrameError,
   * taking nothing, when the frame never fits.
   */
  add(bytes: Uint8Array, at: number, end: number): number {
    const n = Math.min(this.length - this.received, end - at);
    const piece = at === 0 && n === bytes.length ? bytes : bytes.subarray(at, at + n);
    // With this piece, half of a long frame is here (and not all of it: then `take` copies once).
    if (this.whole === undefined && this.length > BLOCK_BYTES && (this.received + n) * 2 >= this.length && this.received + n < this.length) {
      if (!this.gather()) return at;
    }
    if (this.whole !== undefined) {
      this.whole.set(piece, this.received);
      if (this.backlog !== 0) this.catchUp(n);
      this.received += n;
      return at + n;
    }
    const block = this.block;
    if (block !== undefined && block.length - this.blockFill >= n) {
      block.set(piece, this.blockFill);
      this.blockFill += n;
    } else if (this.keeps(n, bytes.buffer.byteLength)) {
      if (!this.charge(n)) return at;
      this.sealBlock();
      this.pieces.push(piece);
    } else {
      // A long piece not kept (the small part of a larger chunk) gets memory of its own size.
      const size = Math.max(n, Math.min(BLOCK_BYTES, this.length - this.received));
      if (!this.charge(size)) return at;
      const fresh = new Uint8Array(size);
      this.sealBlock();
      fresh.set(piece);
      this.block = fresh;
      this.blockFill = n;
    }
    this.received += n;
    return at + n;
  }

  /**
   * Half of a long frame is here: memory of its full length is now at most twice what arrived,
   * so it is made, and the rest goes straight in as it comes (copied while the received chunk is
   * fresh, and chunks are not held to the end: 1 MiB frames at 1 in flight went from about 400
   * to 900 a second, docs/benchmarks.md). What came before is copied in as the rest arrives, not
   * here: copied at once, half the frame went in one turn into memory never touched before, whose
   * page faults made that a turn of 75 ms for a 48 MiB frame on an idle 2-core VM (a 64 KiB
   * chunk takes 0.2 ms), a stall of the whole event loop that CPU load stretched past a second.
   */
  private gather(): boolean {
    // Charged first, for the difference: over the budget, it throws (or waits) having changed
    // nothing. The charge is the frame's length from here on: the pieces still held and what
    // `whole` has taken never add up to more than what arrived.
    const more = this.length - this.held;
    if (more > 0 && !this.charge(more)) return false;
    if (more < 0) this.refund(-more);
    // Room taken for it after a wait is in `held`, the length: nothing more is charged for this frame.
    this.prepaid = 0;
    this.sealBlock();
    // Not zeroed first: every byte is written (what came, then the rest) before `take` hands it out.
    this.whole = uninitializedBytes(this.length);
    this.backlog = this.received;
    this.scheduleSlice();
    return true;
  }

  /**
   * Copies a slice of the backlog once this macrotask is over, and so on until none is left:
   * the chunks' shares alone would leave it held beside `whole`, uncharged, for as long as the
   * peer stalls, half again what the frame is charged.
   */
  private scheduleSlice(): void {
    const generation = this.generation;
    // Only the assembly is held until then: discarded, it holds nothing of the frame.
    afterMacrotask(() => this.slice(generation));
  }

  private slice(generation: number): void {
    if (generation !== this.generation || this.backlog === 0) return;
    this.copyBack(Math.max(0, this.backlog - SLICE_BYTES));
    if (this.backlog !== 0) this.scheduleSlice();
  }

  /**
   * Copies, along with a piece of `n` bytes, its share of the backlog: as much as it is of what
   * the frame still lacks, rounded up to whole pieces, so each turn copies in proportion to what
   * it received and the last piece of the frame takes the last of the backlog. The pieces lie at
   * the backlog's end in turn, last first: each is let go once copied.
   */
  private catchUp(n: number): void {
    const left = this.length - this.received;
    // The last piece takes all that is left by rule, not by the share's sum: past 2^53 (a backlog
    // near 1 GB times a chunk near 90 MB) that sum rounds, and could ask for a byte more than is left.
    this.copyBack(n === left ? 0 : Math.max(0, this.backlog - Math.ceil((this.backlog * n) / left)));
  }

  /** Copies the backlog's last pieces into `whole`, letting each go, until `until` bytes or fewer are left. */
  private copyBack(until: number): void {
    const whole = this.whole!;
    while (this.backlog > until) {
      const piece = this.pieces.pop()!;
      this.backlog -= piece.length;
      whole.set(piece, this.backlog);
    }
  }

  /** The whole frame, in memory of its own; the assembly is idle again. */
  take(): Uint8Array {
    let frame = this.whole ?? this.block;
    if (frame === undefined || frame.length !== this.length) {
      this.sealBlock();
      frame = uninitializedBytes(this.length); // the pieces fill it
      let at = 0;
      for (const piece of this.pieces) {
        frame.set(piece, at);
        at += piece.length;
      }
    }
    this.discard();
    return frame;
  }

  /** Drops what arrived and gives back its memory to the budget. */
  discard(): void {
    // Setting an array's length costs a call into the runtime, even on an empty array.
    if (this.pieces.length !== 0) this.pieces.length = 0;
    // Only a frame that made `whole` may have a slice scheduled: the others cost nothing more.
    if (this.whole !== undefined) this.generation++;
    this.block = this.whole = undefined;
    this.length = this.received = this.blockFill = this.backlog = this.prepaid = 0;
    // Out of the queue before the room is given back: it goes to those behind, not to this.
    if (this.queued) {
      this.queued = false;
      this.budget.leave(this);
    }
    this.refund(this.held);
  }

  /**
   * Whether a piece of `n` bytes that does not fit in the open block is kept rather than copied
   * into a new one; `viewed` is the length of the memory its chunk is a view of (on Deno, a read
   * region of up to 64 KiB that holds several reads; on Node and Bun, the chunk itself).
   */
  private keeps(n: number, viewed: number): boolean {
    // The last one is let go as soon as the frame is copied out.
    if (this.received + n === this.length) return true;
    // A view holds all the memory it views and only the piece is charged: kept only where it is most of it.
    if (n * 2 < viewed) return false;
    // A long piece is worth its view. The first one of a frame longer than a block would only be copied twice.
    return n >= BLOCK_BYTES || (this.received === 0 && this.length > BLOCK_BYTES);
  }

  /** Charges `n` bytes to the budget: false when it must wait for them (queued, if not already). */
  private charge(n: number): boolean {
    if (this.prepaid !== 0) return this.usePrepaid(n);
    if (!this.budget.take(n, this.held)) return this.wait(n);
    this.held += n;
    return true;
  }

  /** The room taken for this while it waited pays for `n`: what the same piece asks again, so all of it. */
  private usePrepaid(n: number): boolean {
    if (n <= this.prepaid) {
      this.prepaid -= n;
      return true;
    }
    // Asked for more than it waited for (never, as the piece is the same): the rest as any charge.
    const rest = n - this.prepaid;
    if (!this.budget.take(rest, this.held)) return this.wait(rest);
    this.held += rest;
    this.prepaid = 0;
    return true;
  }

  private wait(n: number): boolean {
    // A frame longer than the whole budget never fits: closed now, as when no connection waited, rather than after the wait.
    if (this.length > this.budget.max) throw this.budget.over(n);
    if (!this.queued) {
      this.queued = true;
      this.budget.wait(this, n);
    }
    return false;
  }

  /** The budget's: `n` bytes are taken for the piece this waited with. */
  roomGiven(n: number): void {
    this.queued = false;
    this.held += n;
    this.prepaid += n;
    this.listener.roomGiven?.();
  }

  private refund(n: number): void {
    this.held -= n;
    this.budget.give(n);
  }

  private sealBlock(): void {
    if (this.block === undefined) return;
    this.pieces.push(this.blockFill === this.block.length ? this.block : this.block.subarray(0, this.blockFill));
    this.block = undefined;
  }
}
