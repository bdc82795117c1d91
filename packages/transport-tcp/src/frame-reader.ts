import { ErrorCode, FrameError, RpcError, frameBodyLength, looksLikeTls, type FrameSpec } from '@skein/core';
import { FrameAssembly, type RoomListener } from './frame-assembly.js';
import type { PendingFrameBudget } from './pending-frame-budget.js';

/** The assembly holds a header cut across chunks: the frame's length is not known yet. */
const SIZING = 1;
/** The sink asked to stop after the frame it was handed. */
const HALTED = 2;
/** Nothing received yet: the first bytes tell a TLS peer on a plaintext connection. */
const FRESH = 4;
/** The first bytes were a TLS client's hello. */
const TLS_CLIENT = 8;
/** The first bytes were a TLS server's alert. */
const TLS_SERVER = 16;

/**
 * Receives the frame at `bytes[start, end)`; returns false to stop the reader after it (the
 * connection paused). `roomGiven`: the reader stopped to wait for room in the budget (`waiting`),
 * and has it now: push the rest of the chunk again (later, not inside this call).
 */
export interface FrameReceiver extends RoomListener {
  frameRead(bytes: Uint8Array, start: number, end: number): boolean;
}

/**
 * An incremental frame parser. A frame that lies inside one received chunk is handed out as its
 * place in that chunk: no copy and no view. Only a frame cut across chunks is assembled, in
 * memory that grows with the bytes that arrived (see FrameAssembly), charged to the budget
 * while the frame is incomplete. Memory handed out is never reused, so receivers may keep
 * views of it.
 */
export class FrameReader<S extends FrameReceiver = FrameReceiver> {
  /** Made for the first frame cut across chunks: a connection whose frames arrive whole never needs one. */
  private assembly: FrameAssembly | undefined;
  /** The bits above, in one field rather than four (8 bytes each, at 10,000 idle connections). */
  private state = FRESH;

  constructor(
    /** What the next header is read by: the connection may change it (FrameConn.setFrameSpec). */
    public spec: FrameSpec,
    private readonly budget: PendingFrameBudget,
    protected readonly sink: S,
  ) {}

  /** True while part of a frame has arrived and the rest has not. */
  get midFrame(): boolean {
    return this.assembly !== undefined && this.assembly.active;
  }

  /** True while a piece of the frame under way waits for room in the budget: `push` stopped before it. */
  get waiting(): boolean {
    return this.assembly !== undefined && this.assembly.waiting;
  }

  /**
   * Parses `chunk` from `from`. Returns where it stopped: the chunk's end, the end of the frame
   * after which the sink asked to stop, or the piece that waits for room in the budget
   * (`waiting`; the sink's `roomGiven` follows). Throws what `bodyLength` or the sink throws, and
   * the budget's FrameError for a frame that never fits.
   */
  push(chunk: Uint8Array, from = 0): number {
    this.state &= ~HALTED;
    if ((this.state & FRESH) !== 0) this.first(chunk, from);
    let at = from;
    try {
      while (at < chunk.length && (this.state & HALTED) === 0) {
        at = this.midFrame ? this.assemble(chunk, at) : this.startFrame(chunk, at);
      }
    } catch (err) {
      throw this.tlsPeer === undefined ? err : tlsMismatch(err, this.tlsPeer);
    }
    return at;
  }

  /** Why the connection failed when the peer ended in the middle of a frame. */
  endedMidFrame(): Error {
    const err = new FrameError('the peer ended in the middle of a frame');
    return this.tlsPeer === undefined ? err : tlsMismatch(err, this.tlsPeer);
  }

  /**
   * What a clean close by the peer means when it came before a whole frame: a TLS peer (its
   * first bytes were a TLS record), or, for a plaintext client that received nothing at all, a
   * server at its connection cap or one that may speak TLS. Undefined when the close is just a close.
   */
  silentClose(plainClient: boolean): Error | undefined {
    if (this.tlsPeer !== undefined && this.midFrame) return this.endedMidFrame();
    if (!plainClient || (this.state & FRESH) === 0) return undefined;
    return new RpcError(
      ErrorCode.Unreachable,
      // Both causes, since the bytes cannot tell them apart: a Skein server at a connection cap
      // (maxConnections, clients' or peers') closes before reading, as a TLS server does.
      'the server closed the connection before sending a byte: a server at its connection limit (maxConnections, or its clients\' or peers\' cap) closes a new one so, and a TLS server closes a plaintext client so (then dial tls://host:port, or give the transport tls options)',
    );
  }

  /** The first bytes were a TLS record: a client's hello, or a server's alert. */
  private get tlsPeer(): 'client' | 'server' | undefined {
    return (this.state & TLS_CLIENT) !== 0 ? 'client' : (this.state & TLS_SERVER) !== 0 ? 'server' : undefined;
  }

  private first(chunk: Uint8Array, at: number): void {
    if (at >= chunk.length) return;
    this.state &= ~FRESH;
    if (looksLikeTls(chunk, at)) this.state |= chunk[at] === 0x16 ? TLS_CLIENT : TLS_SERVER;
  }

  /** Drops a partly received frame, giving its memory back to the budget: the connection is gone. */
  discard(): void {
    this.assembly?.discard();
    this.state &= ~SIZING;
  }

  private startFrame(chunk: Uint8Array, at: number): number {
    const headerLength = this.spec.headerLength;
    if (chunk.length - at < headerLength) {
      this.state |= SIZING;
      this.assembling().start(headerLength);
      return this.assemble(chunk, at);
    }
    const end = at + headerLength + frameBodyLength(this.spec, chunk, at);
    if (end <= chunk.length) {
      if (!this.sink.frameRead(chunk, at, end)) this.state |= HALTED;
      return end;
    }
    this.assembling().start(end - at);
    return this.assemble(chunk, at);
  }

  private assembling(): FrameAssembly {
    return (this.assembly ??= new FrameAssembly(this.budget, this.sink));
  }

  /** Goes on with the frame under way (`start` made the assembly). */
  private assemble(chunk: Uint8Array, at: number): number {
    const assembly = this.assembly!;
    const next = assembly.add(chunk, at, chunk.length);
    if (next === at) {
      // Nothing taken: the piece waits for room in the budget, and the reader with it.
      this.state |= HALTED;
      return at;
    }
    if (!assembly.complete) return next;
    // A frame cut inside its header: its length is known now, and the header stays where it is,
    // as the frame's first bytes (given back and taken again, it could be made to wait behind others).
    if ((this.state & SIZING) !== 0) {
      this.state &= ~SIZING;
      const header = assembly.peek();
      const length = header.length + frameBodyLength(this.spec, header, 0);
      if (length !== header.length) {
        assembly.start(length);
        return next;
      }
    }
    const bytes = assembly.take();
    if (!this.sink.frameRead(bytes, 0, bytes.length)) this.state |= HALTED;
    return next;
  }
}

/**
 * The first bytes of a plaintext connection did not frame, and they were a TLS record: the peer
 * speaks TLS (a TLS client's hello on a plaintext listener, or a TLS server's alert answering a
 * plaintext client), and the error says so instead of "bad magic".
 */
function tlsMismatch(err: unknown, peer: 'client' | 'server'): RpcError {
  const what = peer === 'client' ? 'a TLS client is talking to this plaintext endpoint' : 'the peer answered in TLS: it is a TLS server (dial tls://host:port, with the transport\'s tls options)';
  return new RpcError(ErrorCode.Unreachable, `${what}; ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
