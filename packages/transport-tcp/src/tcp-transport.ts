import { CertificateExpiryWatch, MAX_TIMER_MS, SMALL_PART, Slab, checkFrameSpec, formatAddress, invalidArgument, parseAddress, type Address, type ByteConn, type FrameConn, type FrameListener, type FrameSpec, type ReloadableTransport, type Runtime, type TlsOptions, type Transport, type TransportConnectOptions, type TransportListenOptions } from '@skein/core';
import { TcpFrameConn, type Dialled, type FrameConnSettings } from './frame-conn.js';
import { TlsSettings } from './tls-settings.js';
import { PendingFrameBudget } from './pending-frame-budget.js';

export interface TcpTransportOptions {
  /**
   * Parts shorter than this are copied into the batch; longer ones are sent from the caller's
   * buffer. Default SMALL_PART (1 KiB), the least the contract allows: every copy is a fresh
   * ArrayBuffer's worth of slab, and on Node 20 (V8 11.3) ArrayBuffer bytes allocated since the
   * last full GC count against a small old-generation limit, so copying 1–16 KiB messages kept
   * both ends of a 1 KiB echo in back-to-back Mark-Compacts (~25 a second, half the calls/s).
   */
  copyThreshold?: number;
  /**
   * A batch goes out before the end of its turn once it holds this many frames at the most, so
   * the peer starts on the first frames of a long turn while the rest are written (the same knob
   * as the WebSocket transport's, which counts whole frames). Counted as writes, which a frame
   * makes one to three of: the stream does not say where its frames end, and finding out would
   * cost a header read per frame.
   * Default 128; `Infinity` sends once per turn.
   */
  batchFrames?: number;
  /**
   * Likewise, once a batch holds this many bytes or more (the write that reaches it included), so
   * one socket write is about this size. A send trigger: the WebSocket transport's
   * `maxBatchBytes` caps the size of one message instead, and sends nothing early. Default 64 KiB.
   */
  batchBytes?: number;
  /** Size of the blocks small parts are copied into, at least `copyThreshold`. Default 64 KiB. */
  slabSize?: number;
  /**
   * On a connection a listener accepted, after a FrameError's last words, how long the peer has
   * to close before the connection is dropped. Default 2 s. One this transport dialled closes at once.
   */
  lingerMs?: number;
  /**
   * Bytes that frames cut across chunks may hold while the rest of them arrives, across all the
   * connections of one listener (and on each connection this transport makes: the client picks
   * how many, and a server that stalls mid-frame must not fail those to other servers). A
   * connection whose partly received frame would go over it is closed with a FrameError, alone.
   * At least the largest frame you accept. Default 256 MiB; `Infinity`: no limit.
   */
  maxPendingFrameBytes?: number;
  /**
   * TLS for every connection this transport makes and accepts (a `tls://` address asks for TLS
   * too, with these options or, for a client, the runtime's default CAs). One shape on every
   * runtime and transport: see core's TlsOptions and docs/tls.md. `reloadTls` swaps the
   * certificate later.
   */
  tls?: TlsOptions;
}

/** The stream's largest frame by default (16 MiB message, 64 MiB blob) fits three times over. */
const DEFAULT_MAX_PENDING_FRAME_BYTES = 256 * 1024 * 1024;

interface TransportSettings extends FrameConnSettings {
  readonly maxPendingFrameBytes: number;
}

/**
 * Frames over TCP or Unix sockets, on any runtime. `listen`'s accept callback must bind the
 * connection before it returns: until bound, its bytes wait in the runtime (nothing is lost),
 * but nothing watches it either.
 */
export function tcpTransport(runtime: Runtime, options: TcpTransportOptions = {}): ReloadableTransport {
  const settings = settingsFrom(runtime, options);
  const frames = (conn: ByteConn, spec: FrameSpec, budget: PendingFrameBudget, dialled: Dialled, identityPending = false): FrameConn =>
    new TcpFrameConn(conn, spec, settings, budget, dialled, identityPending);
  const tls = new TlsSettings(options.tls, runtime);
  const transport: ReloadableTransport = {
    name: 'tcp',
    async connect(address: Address, spec: FrameSpec, opts: TransportConnectOptions = {}): Promise<FrameConn> {
      checkFrameSpec(spec);
      // A malformed Address object is InvalidArgument here, not the socket API's RangeError (or a
      // dial of localhost for an empty host): the contract's words for a bad address.
      parseAddress(address);
      const secure = tls.forConnect(address, opts.logger);
      const conn = await runtime.connect(address, { ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }), ...(opts.signal && { signal: opts.signal }), ...(secure && { tls: secure }) });
      // A budget of its own: shared, a server that stalls mid-frame would fail the connections to others.
      return frames(conn, spec, new PendingFrameBudget(settings.maxPendingFrameBytes), secure === undefined ? 'plain' : 'tls');
    },
    async listen(address: Address, spec: FrameSpec, accept: (conn: FrameConn) => void, opts: TransportListenOptions = {}): Promise<FrameListener> {
      checkFrameSpec(spec);
      const budget = new PendingFrameBudget(settings.maxPendingFrameBytes);
      const secure = tls.forListen(address);
      // Read per connection from the settings a reload keeps (it changes certificates, never requestCert).
      const listener = await runtime.listen(address, (conn) => accept(frames(conn, spec, budget, undefined, secure !== undefined && tls.requestsCerts() && conn.identity === undefined)), secure && { tls: secure });
      // Given a reload applied while it opened; closed if it cannot take it.
      if (secure) await tls.listening(listener, new CertificateExpiryWatch(formatAddress(listener.address), opts.logger, runtime.clock), secure);
      const frameListener: FrameListener = { address: listener.address, close: () => (tls.closed(listener), listener.close()) };
      return frameListener;
    },
    reloadTls: (next) => tls.reload(next),
    tlsGeneration: () => tls.generation,
  };
  return transport;
}

function settingsFrom(runtime: Runtime, options: TcpTransportOptions): TransportSettings {
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
  return { slab: new Slab(slabSize), copyThreshold, batch: { writes: batchFrames, bytes: batchBytes }, clock: runtime.clock, lingerMs, maxPendingFrameBytes };
}

