import { SMALL_PART, Slab, checkFrameSpec, invalidArgument, type Address, type ByteConn, type FrameConn, type FrameListener, type FrameSpec, type Runtime, type Transport, type TransportConnectOptions } from '@skein/core';
import { TcpFrameConn, type FrameConnSettings } from './frame-conn.js';

export interface TcpTransportOptions {
  /** Parts shorter than this are copied into the batch; longer ones are sent from the caller's buffer. Default 16 KiB. */
  copyThreshold?: number;
  /**
   * A batch goes out before the end of its turn once it holds this many writes (a frame is one to
   * three), so the peer starts on the first frames of a long turn while the rest are written.
   * Default 128; `Infinity` sends once per turn.
   */
  batchWrites?: number;
  /** Likewise, once a batch holds this many bytes. Default 64 KiB. */
  batchBytes?: number;
  /** Size of the blocks small parts are copied into, at least `copyThreshold`. Default 64 KiB. */
  slabSize?: number;
  /** After a FrameError's last words, how long the peer has to close before the connection is dropped. Default 2 s. */
  lingerMs?: number;
}

/**
 * Frames over TCP or Unix sockets, on any runtime. `listen`'s accept callback must bind the
 * connection before it returns: until bound, its bytes wait in the runtime (nothing is lost),
 * but nothing watches it either.
 */
export function tcpTransport(runtime: Runtime, options: TcpTransportOptions = {}): Transport {
  const settings = settingsFrom(runtime, options);
  const frames = (conn: ByteConn, spec: FrameSpec): FrameConn => new TcpFrameConn(conn, spec, settings);
  return {
    name: 'tcp',
    async connect(address: Address, spec: FrameSpec, opts: TransportConnectOptions = {}): Promise<FrameConn> {
      checkFrameSpec(spec);
      const conn = await runtime.connect(address, opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs });
      return frames(conn, spec);
    },
    async listen(address: Address, spec: FrameSpec, accept: (conn: FrameConn) => void): Promise<FrameListener> {
      checkFrameSpec(spec);
      const listener = await runtime.listen(address, (conn) => accept(frames(conn, spec)));
      return { address: listener.address, close: () => listener.close() };
    },
  };
}

function settingsFrom(runtime: Runtime, options: TcpTransportOptions): FrameConnSettings {
  const { copyThreshold = 16 * 1024, slabSize = 64 * 1024, lingerMs = 2_000, batchWrites = 128, batchBytes = 64 * 1024 } = options;
  // FrameConn.write promises to copy parts below SMALL_PART: the stream reuses its header buffers.
  if (!Number.isSafeInteger(copyThreshold) || copyThreshold < SMALL_PART) {
    throw invalidArgument(`copyThreshold ${copyThreshold} must be a byte count of at least ${SMALL_PART}`);
  }
  if (!Number.isSafeInteger(slabSize) || slabSize < Math.max(copyThreshold, 1)) {
    throw invalidArgument(`slabSize ${slabSize} must be a byte count of at least copyThreshold (${copyThreshold}) and 1`);
  }
  for (const [name, n] of [['batchWrites', batchWrites], ['batchBytes', batchBytes]] as const) {
    if (n !== Infinity && !(Number.isSafeInteger(n) && n > 0)) throw invalidArgument(`${name} ${n} must be a positive integer or Infinity`);
  }
  if (!(lingerMs > 0)) throw invalidArgument(`lingerMs ${lingerMs} is not a positive duration`);
  return { slab: new Slab(slabSize), copyThreshold, batch: { writes: batchWrites, bytes: batchBytes }, clock: runtime.clock, lingerMs };
}

