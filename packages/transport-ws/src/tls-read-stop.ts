import type { Duplex } from 'node:stream';

/** The TCP handle under Deno's node:tls TLSWrap: what reads the kernel's socket. */
interface NativeReads {
  readStart(): unknown;
  readStop(): unknown;
}

/**
 * Stops and restarts the reads beneath a TLS socket where pausing the socket does not.
 *
 * Deno's node:tls (2.9) stops its TLSWrap on `pause()` (`reading` false), but the TCP handle under
 * it reads on, and keeps what it read: a paused ws client over wss took in 726 MiB in 5 s (RSS
 * 1 GiB) from a server that sent all it could, and the server saw no backpressure at all. Node's
 * and Bun's sockets stop; there, and on a Deno without that handle, this does nothing.
 */
export class TlsReadStop {
  private stopped = false;

  private constructor(private readonly native: NativeReads) {}

  /** The stopper for `wire`, or undefined where pausing it stops its reads already. */
  static of(wire: Duplex | undefined): TlsReadStop | undefined {
    const handle = (wire as { _handle?: { _nativeTcpHandle?: Partial<NativeReads> } } | undefined)?._handle;
    const native = handle?._nativeTcpHandle;
    return typeof native?.readStart === 'function' && typeof native.readStop === 'function' ? new TlsReadStop(native as NativeReads) : undefined;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.native.readStop();
  }

  /** Only a read this stopped restarts: a second start of a reading handle would read twice. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.native.readStart();
  }
}
