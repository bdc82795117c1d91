import type { MessagePort } from 'node:worker_threads';
import { ConnLifecycle, FrameError, SMALL_PART, frameBodyLength, type FrameConn, type FrameHandlers, type FrameSpec } from '@skein/core';

/** What travels on the port: bytes (one or more frames, or part of one), or the half-close. */
type PortMessage = Uint8Array | typeof END;
const END = 'end';

/**
 * A FrameConn over one end of a MessageChannel. ConnLifecycle (from @skein/core) does what every
 * connection does alike: holds what arrives before `bind` or while paused, reports the peer's
 * end after its data and the close exactly once, and fails only this connection when a handler
 * throws. This class adds what is particular to a MessagePort: how bytes are sent (a run's writes
 * gathered into one message), how frames are found in what arrives, and how it closes.
 *
 * Limits a real transport would not have: a MessagePort has no back-pressure, so `congested` is
 * always false, and no way to stop reading, so a paused connection holds what keeps arriving.
 */
export class PortConn extends ConnLifecycle<FrameHandlers, Uint8Array> implements FrameConn {
  /** Parts written in this run, sent together at its end or at `flush`. */
  private parts: Uint8Array[] = [];
  private queued = 0;
  private flushQueued = false;
  /** The start of a frame whose rest is in a later message (a copy: it outlives its message). */
  private carry: Uint8Array | undefined;
  /** The message being delivered when a pause stopped it partway (joined to a carry), and how far it got. */
  private current: Uint8Array | undefined;
  private at = 0;
  private sentEnd = false;
  private peerEnded = false;

  constructor(
    remote: string,
    private readonly spec: FrameSpec,
    private readonly port: MessagePort,
  ) {
    super(remote);
    // A MessagePort reads from the start: what arrives before bind is held by ConnLifecycle.
    port.on('message', (m: PortMessage) => this.onMessage(m));
    // Either side's port.close() ends both: that is the clean close.
    port.on('close', () => this.gone(undefined));
  }

  readonly congested = false;

  write(part: Uint8Array): void {
    if (this.stopped || this.over || this.sentEnd) return;
    // A short part is copied: the caller may reuse it (a scratch header) as soon as write returns.
    // A long one is kept by reference until the flush copies it into the message.
    this.parts.push(part.length < SMALL_PART ? part.slice() : part);
    this.queued += part.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushLater);
    }
  }

  flush(): void {
    if (this.queued === 0) return;
    const message = new Uint8Array(this.queued);
    let at = 0;
    for (const p of this.parts) {
      message.set(p, at);
      at += p.length;
    }
    this.parts = [];
    this.queued = 0;
    // Transferred, not copied: the receiver owns the buffer from now on.
    this.port.postMessage(message, [message.buffer]);
  }

  /** Half-close: what is queued goes first; once both sides have ended, the port closes. */
  end(): void {
    if (this.stopped || this.over || this.sentEnd) return;
    this.flush();
    this.sentEnd = true;
    this.port.postMessage(END);
    if (this.peerEnded) this.port.close();
  }

  /** True while part of a frame has arrived and the rest has not (the server's read timeout watches it). */
  get midFrame(): boolean {
    return this.carry !== undefined;
  }

  protected consume(message: Uint8Array): boolean {
    const buf = this.current ?? this.withCarry(message);
    const hl = this.spec.headerLength;
    let at = this.at;
    while (buf.length - at >= hl) {
      // Throws a FrameError for a header the spec rejects: ConnLifecycle then fails this connection.
      const end = at + hl + frameBodyLength(this.spec, buf, at);
      if (end > buf.length) break;
      this.handlers!.frame(buf, at, end);
      at = end;
      if ((this.paused || this.stopped) && at < buf.length) {
        // Stopped mid-message: ConnLifecycle hands this message back on resume; go on from here.
        this.current = buf;
        this.at = at;
        return false;
      }
    }
    if (at < buf.length) this.carry = buf.slice(at);
    this.current = undefined;
    this.at = 0;
    return true;
  }

  /** The peer's end, once what it sent before is delivered: a frame cut short by it is the peer's fault. */
  protected override deliverEnd(h: FrameHandlers): void {
    if (this.carry) return this.fail(new FrameError('the peer ended in the middle of a frame'));
    super.deliverEnd(h);
  }

  protected closeTransport(err: Error | undefined): void {
    this.parts = [];
    this.queued = 0;
    // The protocol's error reply, so that the peer learns why it is dropped.
    if (err instanceof FrameError && err.lastWords) this.port.postMessage(err.lastWords.slice());
    this.port.close();
  }

  private readonly flushLater = (): void => {
    this.flushQueued = false;
    if (!this.stopped && !this.over) this.flush();
  };

  private onMessage(m: PortMessage): void {
    if (m === END) {
      this.peerEnded = true;
      this.endReceived();
      if (this.sentEnd) this.port.close();
      return;
    }
    this.received(m);
  }

  /** A message that continues a frame begun in the last one, joined to its start. */
  private withCarry(m: Uint8Array): Uint8Array {
    const c = this.carry;
    if (!c) return m;
    this.carry = undefined;
    const joined = new Uint8Array(c.length + m.length);
    joined.set(c);
    joined.set(m, c.length);
    return joined;
  }
}
