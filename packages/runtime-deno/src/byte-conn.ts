import { ByteConnLifecycle, ChunkQueue, connectTimerMs, tlsAcceptError, tlsCloseError, type ByteConn } from '@skein/core';
import type { HandshakeHolds } from './handshake-holds.js';
import type { DenoConn } from './native-api.js';
import { ReadRegions } from './read-regions.js';

/** `write` returns false once this much is waiting to be sent. */
const HIGH_WATER = 64 * 1024;

/**
 * A ByteConn on a Deno connection: a read loop that pulls while not paused, and a write loop that
 * sends the outbox in order. Deno's reads and writes are promises, so both loops are async and
 * everything they report comes from a later turn than the call that caused it. The connection
 * closes cleanly once both directions are done.
 */
export class DenoByteConn extends ByteConnLifecycle implements ByteConn {
  /** Where reads land (made at the first read). */
  private regions: ReadRegions | undefined;
  private wakeReader: (() => void) | undefined;
  private readonly outbox = new ChunkQueue();
  /** Bytes of the piece being written that Deno has not taken yet. */
  private inFlight = 0;
  /** Bytes Deno's writes took (ByteConn.sentBytes): a write settles once the kernel has them. */
  private sent = 0;
  private writing = false;
  /** write() returned false: tell the handlers when everything is sent. */
  private wantDrain = false;
  /** end() was called: the write side shuts once the outbox is sent. */
  private ending = false;
  private writeShut = false;
  /** The peer's FIN was read. */
  private readDone = false;
  /** Anything received yet: a TLS server that refuses our certificate closes before it sends a byte. */
  private heard = false;
  /** An accepted TLS connection's handshake has not settled yet (Deno would not let its socket go), and its listener's holds. */
  private shaking: HandshakeHolds | undefined;
  /** The close waiting for the handshake to settle (set once a close came while `shaking`). */
  private closeWhenShaken: { err: unknown } | undefined;
  /** Accepted on a TLS listener (`handshake` ran): a client that spoke no TLS is said so at the close (core's tlsAcceptError). */
  private tlsAccepted = false;

  /** `tlsClient`: this is a TLS client, whose server may refuse it after the handshake (see core's tlsCloseError). */
  constructor(
    private readonly conn: DenoConn,
    remote: string,
    private readonly tlsClient?: { readonly presentedCert: boolean },
  ) {
    super(remote);
  }

  /**
   * An accepted TLS connection: its handshake, closed with the reason when it fails or is not
   * done within `timeoutMs`. A close before the handshake settles (the timeout's, or any other)
   * stops delivery at once but is reported only once the handshake op settles, i.e. once the
   * peer sends a byte or leaves: Deno finishes a handshake before it lets a TLS socket go
   * (denoland/deno#14547), so until then the socket is held, and so the connection stays
   * counted against the server's caps, which thus bound the descriptors held.
   */
  handshake(timeoutMs: number, holds: HandshakeHolds): void {
    this.shaking = holds;
    this.tlsAccepted = true;
    // Capped: past 2^31-1 ms setTimeout fires at once, closing every connection before its handshake.
    const timer = setTimeout(() => this.fail(new Error(`TLS handshake not done within ${timeoutMs} ms`)), connectTimerMs(timeoutMs));
    (timer as { unref?: () => void }).unref?.();
    this.conn.handshake!().then(
      () => this.shaken(timer),
      (err: unknown) => this.shaken(timer, err ?? new Error('TLS handshake failed')),
    );
  }

  /** The handshake op settled (or the listener closed): a close that waited is reported now, with its own reason. */
  private readonly shaken = (timer?: ReturnType<typeof setTimeout>, err?: unknown): void => {
    clearTimeout(timer);
    this.shaking?.drop(this.shaken);
    this.shaking = undefined;
    if (this.closeWhenShaken) this.finish(this.closeWhenShaken.err);
    else if (err !== undefined) this.finish(err);
  };

  get sentBytes(): number {
    return this.sent;
  }

  write(chunks: readonly Uint8Array[]): boolean {
    // Dropped, as on Node: false would have the writer wait for a drain that never comes; the
    // close handler tells it why.
    if (this.stopped || this.over || this.ending) return true;
    for (const c of chunks) this.outbox.push(c);
    if (!this.writing && !this.outbox.empty) void this.writeLoop();
    if (this.outbox.bytes + this.inFlight < HIGH_WATER) return true;
    this.wantDrain = true;
    return false;
  }

  end(): void {
    if (this.stopped || this.over || this.ending) return;
    this.ending = true;
    if (!this.writing) void this.shutdownWrite();
  }

  /** Starts the read loop: until now, what the peer sent waits in the kernel. */
  protected override startReading(): void {
    if (!this.over) void this.readLoop();
  }

  protected override resumeReading(): void {
    this.wakeReader?.();
  }

  protected closeTransport(): void {
    this.finish();
  }

  /** Pulls while not paused; a read already under way when pause() came is held by ConnLifecycle. */
  private async readLoop(): Promise<void> {
    try {
      for (;;) {
        while (this.paused && !this.over) await new Promise<void>((resolve) => (this.wakeReader = resolve));
        this.wakeReader = undefined;
        if (this.over) return;
        const regions = (this.regions ??= new ReadRegions());
        const n = await this.conn.read(regions.next());
        if (this.over) return;
        if (n === null) return this.onReadDone();
        if (n > 0) {
          this.heard = true;
          this.received(regions.take(n));
        }
      }
    } catch (err) {
      this.finish(err);
    }
  }

  private onReadDone(): void {
    this.readDone = true;
    this.endReceived();
    this.finishIfDone();
  }

  private async writeLoop(): Promise<void> {
    this.writing = true;
    try {
      while (!this.outbox.empty) {
        const piece = this.outbox.take();
        // Deno may take part of a write: go on from where it stopped.
        for (let sent = 0; sent < piece.length; ) {
          this.inFlight = piece.length - sent;
          const n = await this.conn.write(sent === 0 ? piece : piece.subarray(sent));
          sent += n;
          this.sent += n;
          if (this.over) return;
        }
        this.inFlight = 0;
      }
    } catch (err) {
      this.finish(err);
      return;
    } finally {
      this.writing = false;
    }
    if (this.ending) {
      await this.shutdownWrite();
    } else if (this.wantDrain) {
      this.wantDrain = false;
      this.drained();
    }
  }

  private async shutdownWrite(): Promise<void> {
    try {
      await this.conn.closeWrite();
    } catch (err) {
      this.finish(err);
      return;
    }
    this.writeShut = true;
    this.finishIfDone();
  }

  /** Both directions are over: the connection closes cleanly. */
  private finishIfDone(): void {
    if (this.readDone && this.writeShut) this.finish();
  }

  /** Closes the connection and reports it gone: cleanly, or with the error that ended it. */
  private finish(err?: unknown): void {
    if (this.over) return;
    this.outbox.clear();
    if (this.shaking && !this.closeWhenShaken && this.shaking.hold(this.shaken)) {
      // Closing now would report the connection gone while Deno keeps its socket (see handshake()).
      this.closeWhenShaken = { err };
      return;
    }
    if (this.shaking && this.closeWhenShaken) return;
    try {
      this.conn.close(); // pending reads and writes reject, and are ignored
    } catch {
      // already closed by Deno
    }
    const error = err === undefined ? undefined : err instanceof Error ? err : new Error(String(err));
    if (this.tlsAccepted) this.gone(tlsAcceptError(error));
    else this.gone(this.tlsClient && !this.stopped ? tlsCloseError(this.remote, error, this.heard, this.tlsClient.presentedCert) : error);
    this.wakeReader?.();
  }
}
