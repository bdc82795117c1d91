import { MAX_TIMER_MS, SMALL_PART, Slab, invalidArgument, systemClock, type ByteConn, type Clock, type FrameConn, type FrameSpec } from '@skein/core';
import { TcpFrameConn, type Dialled, type FrameConnSettings } from './frame-conn.js';
import { PendingFrameBudget } from './pending-frame-budget.js';

/** How a byte stream is framed: `tcpTransport`'s options, and a transport author's over a byte stream of their own. */
export interface ByteStreamFramingOptions {
  /**
   * Parts shorter than this are copied into the batch; longer ones are sent from the caller's
   * buffer. Default SMALL_PART (1 KiB), the least the contract allows: every copy is a fresh
   * ArrayBuffer's worth of slab, and on Node 20 (V8 11.3) ArrayBuffer bytes allocated since the
   * last full GC count against a small old-generation limit, so copying 1–16 KiB messages kept
   * both ends of a 1 KiB echo in back-to-back Mark-Compacts (~25 a second, half the calls/s).
   */
  copyThreshold?: number | undefined;
  /**
   * A batch goes out before the end of its turn once it holds this many frames at the most, so
   * the peer starts on the first frames of a long turn while the rest are written (the same knob
   * as the WebSocket transport's, which counts whole frames). Counted as writes, which a frame
   * makes one to three of: the stream does not say where its frames end, and finding out would
   * cost a header read per frame.
   * Default 128; `Infinity` sends once per turn.
   */
  batchFrames?: number | undefined;
  /**
   * Likewise, once a batch holds this many bytes or more (the write that reaches it included), so
   * one socket write is about this size. A send trigger: the WebSocket transport's
   * `maxBatchBytes` caps the size of one message instead, and sends nothing early. Default 64 KiB.
   */
  batchBytes?: number | undefined;
  /** Size of the blocks small parts are copied into, at least `copyThreshold`. Default 64 KiB. */
  slabSize?: number | undefined;
  /**
   * On a connection a listener accepted, after a FrameError's last words, how long the peer has
   * to close before the connection is dropped. Default 2 s. One this transport dialled closes at once.
   */
  lingerMs?: number | undefined;
  /**
   * Bytes that frames cut across chunks may hold while the rest of them arrives, across all the
   * connections of one listener (and on each connection this transport makes: the client picks
   * how many, and a server that stalls mid-frame must not fail those to other servers). A
   * connection whose partly received frame does not fit while others hold it waits for room,
   * reading paused, first come first served (the server's read timeout bounds the wait); one
   * whose frame is longer than the budget is closed with a FrameError, alone.
   * At least the largest frame you accept. Default 256 MiB; `Infinity`: no limit.
   */
  maxPendingFrameBytes?: number | undefined;
}

/** One connection's place among the others: what `ByteStreamFraming.conn` needs beside the bytes and the spec. */
export interface ByteStreamConnOptions {
  /**
   * What its partly received frames are charged to (`maxPendingFrameBytes`): one `budget()`
   * per listener, shared by the connections it accepts; one of its own for a connection this
   * side dialled (a server that stalls mid-frame must not fail the client's others).
   */
  readonly budget: PendingFrameBudget;
  /**
   * This side dialled it: after a FrameError it closes at once rather than lingering. 'plain':
   * a TLS server could be what answers, so a close before any byte is explained (a server at its
   * connection cap, or one that speaks TLS); 'tls' otherwise. Undefined: accepted by a listener.
   */
  readonly dialled?: Dialled;
  /** Accepted before a TLS handshake that asks for a client certificate: `identity` may still come (FrameConn.identityPending). */
  readonly identityPending?: boolean | undefined;
}

/**
 * A transport's framing of byte streams, made once per transport: what its connections share
 * (the options, checked once, and the slab small parts are copied into).
 */
export interface ByteStreamFraming {
  /**
   * `conn`'s bytes as frames read by `spec` (check it first with core's `checkFrameSpec`): the
   * FrameConn tcpTransport's connections are, with its assembly, budget, batching, counts and
   * last words. `conn` is yours: core's ByteConn over your byte stream (core's ByteConnLifecycle
   * does most of one).
   */
  conn(conn: ByteConn, spec: FrameSpec, options: ByteStreamConnOptions): FrameConn;
  /** A pending-frame budget of `maxPendingFrameBytes`: one per listener, or per dialled connection. */
  budget(): PendingFrameBudget;
}

/** The stream's largest frame by default (16 MiB message, 64 MiB blob) fits three times over. */
const DEFAULT_MAX_PENDING_FRAME_BYTES = 256 * 1024 * 1024;

/**
 * Framing for byte streams, as tcpTransport frames TCP: for a transport over a byte stream that
 * is not a Runtime's (HTTP/2 streams, a Duplex of its own). `clock` times the linger after last
 * words. Throws InvalidArgument on a bad option.
 */
export function byteStreamFraming(options: ByteStreamFramingOptions = {}, clock: Clock = systemClock): ByteStreamFraming {
  const settings = settingsFrom(options, clock);
  return {
    conn: (conn, spec, { budget, dialled, identityPending = false }) => new TcpFrameConn(conn, spec, settings, budget, dialled, identityPending),
    budget: () => new PendingFrameBudget(settings.maxPendingFrameBytes),
  };
}

function settingsFrom(options: ByteStreamFramingOptions, clock: Clock): FrameConnSettings {
  const { copyThreshold = SMALL_PART, slabSize = 64 * 1024, lingerMs = 2_000, batchFrames = 128, batchBytes = 64 * 1024 } = options;
  const { maxPendingFrameBytes = DEFAULT_MAX_PENDING_FRAME_BYTES } = options;
  // FrameConn.write promises to copy parts below SMALL_PART: the stream reuses its header buffers.
  if (!Number.isSafeInteger(copyThreshold) || copyThreshold < SMALL_PART) {
    throw invalidArgument(`copyThreshold ${copyThreshold} must be a byte count of at least ${SMALL_PART}`);
  }
  if (!Number.isSafeInteger(slabSize) || slabSize < Math.max(copyThreshold, 1)) {
    throw invalidArgument(`slabSize ${slabSize} must be a byte count of at least copyThreshold (${copyThreshold}) and 1`);
  }
  const counts = [['batchFrames', batchFrames], ['batchBytes', batchBytes], ['maxPendingFrameBytes', maxPendingFrameBytes]] as const;
  for (const [name, n] of counts) {
    if (n !== Infinity && !(Number.isSafeInteger(n) && n > 0)) throw invalidArgument(`${name} ${n} must be a positive integer or Infinity`);
  }
  // Checked here: past what a timer holds, the clock would refuse it only when a connection fails.
  if (!(lingerMs > 0 && lingerMs <= MAX_TIMER_MS)) throw invalidArgument(`lingerMs ${lingerMs} is not a positive duration of at most ${MAX_TIMER_MS} ms`);
  return { slab: new Slab(slabSize), copyThreshold, batch: { writes: batchFrames, bytes: batchBytes }, clock, lingerMs, maxPendingFrameBytes };
}
