import { invalidArgument } from './rpc-error.js';

/** What ByteHandlers and FrameHandlers have in common: the handlers a ConnLifecycle itself calls. */
export interface LifecycleHandlers {
  drain(): void;
  end?(): void;
  close(err?: Error): void;
}

/**
 * A connection's state, as bits of one number: five booleans and the peer's half-close in one
 * field, not six (a field is 8 bytes, twice per connection: its ByteConn and its FrameConn).
 */
const PAUSED = 1;
const STOPPED = 2;
const OVER = 4;
const REPORTED = 8;
const DELIVERING = 16;
/** The peer's half-close arrived and waits behind held data. */
const END_ARRIVED = 32;
/** The peer's half-close was reported. */
const END_REPORTED = 64;

/**
 * What every connection adapter (a runtime's ByteConn, a transport's FrameConn) does alike with
 * what it receives, written once, so that an adapter holds only what its runtime or transport
 * differs in (how it reads, pauses, writes and closes):
 * - what arrives before `bind`, or while paused, is held and delivered in order later (after
 *   `resume()` returns, never inside it);
 * - the peer's half-close is reported after everything the peer sent before it, to the `end`
 *   handler; without one, this side ends too;
 * - the close is reported exactly once. A clean close comes after the data held before it; a
 *   failure drops what is held and comes at once. Its reason is the local failure (`fail`, a
 *   handler that threw) if there was one, else the transport's error;
 * - a handler that throws fails this connection only.
 *
 * `In` is what the adapter receives (a chunk, a message): it calls `received`, `endReceived`
 * and `gone`, and implements `consume`, `end` and `closeTransport`.
 */
export abstract class ConnLifecycle<H extends LifecycleHandlers, In> {
  protected handlers: H | undefined;
  /** The bits above. */
  private flags = 0;
  /**
   * Received and not yet delivered, oldest first; the head may be partly delivered (see
   * `consume`). Made on first use: most connections never hold anything, and an idle server
   * holds thousands of connections (docs/benchmarks.md, "Memory").
   */
  private held: In[] | undefined;
  /**
   * What the close reports: the local failure (`stop`) if there was one, else the transport's
   * error (`gone`). One field for both: the first to come is the one reported, as a failure can
   * only come before the transport is gone (8 bytes, twice per connection).
   */
  private reason: Error | undefined;
  /** The peer's name, as given or once described (see `remote`). */
  private _remote: string | undefined;

  /** `remote`: the peer, for logs; leave it out to have `describeRemote` name it on first use. */
  constructor(remote?: string) {
    this._remote = remote;
  }

  /** The peer, for logs. */
  get remote(): string {
    return (this._remote ??= this.describeRemote());
  }

  /** `pause()` was called and `resume()` not since. */
  protected get paused(): boolean {
    return (this.flags & PAUSED) !== 0;
  }

  /** Nothing more is delivered: closed or failed here, or gone with an error. */
  protected get stopped(): boolean {
    return (this.flags & STOPPED) !== 0;
  }

  /** The transport is gone: the close is reported once what is held before it is delivered. */
  protected get over(): boolean {
    return (this.flags & OVER) !== 0;
  }

  /** Binds the handlers: what arrived before is delivered now, a close before it too. */
  bind(handlers: H): void {
    if (this.handlers !== undefined) throw invalidArgument(`connection to ${this.remote} is already bound`);
    this.handlers = handlers;
    this.startReading();
    this.deliver();
  }

  pause(): void {
    if (this.paused) return;
    this.flags |= PAUSED;
    if (this.reading()) this.pauseReading();
  }

  resume(): void {
    if (!this.paused) return;
    this.flags &= ~PAUSED;
    if (this.reading()) this.resumeReading();
    queueMicrotask((this.deliverLater ??= () => this.deliver()));
  }

  /** Closes now: nothing more is delivered, and the close handler follows. */
  close(): void {
    if (this.stopped) return;
    // The transport is gone already, its clean close waiting behind data held while paused (an
    // owner paused on a full send buffer, which a gone socket never drains): that data is
    // dropped and the close reported now, else the owner's close would wait for ever.
    if (this.over) return this.stop(undefined);
    this.stop(undefined);
    this.closeTransport(undefined);
  }

  /** Half-close: no more writes from this side, pending ones are sent first. */
  abstract end(): void;

  /** Adapter: hands `item` to the handlers; false when it stopped partway (paused or stopped), to go on from there later. */
  protected abstract consume(item: In): boolean;

  /** Adapter: closes the connection now; `gone` follows, now or later. */
  protected abstract closeTransport(err: Error | undefined): void;

  /**
   * Adapter: starts reading, at bind (until then what arrives waits in the runtime). Runs on a
   * connection already stopped or gone too, for an adapter that must bind what is beneath it.
   */
  protected startReading(): void {}

  /**
   * Adapter: stops reading where the transport can, so the peer slows down. Called only between
   * bind and the close: `startReading` finds `paused` set when the pause came before bind.
   */
  protected pauseReading(): void {}

  protected resumeReading(): void {}

  /**
   * Adapter: names the peer, the first time anyone asks, when the constructor was given no name:
   * most connections are never named in a log, and a string per connection adds up at 10,000
   * idle ones (docs/benchmarks.md, "Memory").
   */
  protected describeRemote(): string {
    return 'unknown';
  }

  /** Adapter: runs once, as the close is reported: lets go of what the adapter still holds. */
  protected dispose(): void {}

  /** Closes because of `err`: nothing more is delivered, and `close(err)` follows. */
  protected fail(err: Error): void {
    if (this.stopped || this.over) return;
    this.stop(err);
    this.closeTransport(err);
  }

  /** Stops delivery for good and drops what is held; `failure`, if any, is what the close reports. */
  protected stop(failure: Error | undefined): void {
    if (this.stopped) return;
    this.flags |= STOPPED;
    this.reason ??= failure;
    // Setting an array's length costs a call into the runtime, even on an empty array.
    if (this.held !== undefined && this.held.length !== 0) this.held.length = 0;
    if (this.over) this.deliver();
  }

  /** Adapter: `item` arrived. Delivered at once unless the connection is unbound, paused, or holds earlier data. */
  protected received(item: In): void {
    if (this.stopped || this.over) return;
    if (this.handlers === undefined || (this.flags & (PAUSED | DELIVERING)) !== 0 || !this.heldNothing()) {
      (this.held ??= []).push(item);
      this.deliver();
      return;
    }
    // The common case, without touching the held queue.
    this.flags |= DELIVERING;
    try {
      if (!this.consume(item) && !this.stopped) (this.held ??= []).unshift(item);
    } catch (err) {
      this.fail(asError(err));
    } finally {
      this.flags &= ~DELIVERING;
    }
    if (this.over) this.deliver();
  }

  /** Adapter: the peer half-closed; reported after what it sent before. */
  protected endReceived(): void {
    if ((this.flags & (END_ARRIVED | END_REPORTED | STOPPED | OVER)) !== 0) return;
    this.flags |= END_ARRIVED;
    this.deliver();
  }

  /** Adapter: the connection is gone; `err` when it was not a clean close. */
  protected gone(err: Error | undefined): void {
    if (this.over) return;
    this.flags |= OVER;
    this.reason ??= err;
    if (err !== undefined) this.stop(undefined);
    this.deliver();
  }

  /**
   * Adapter: `consume` stopped partway without a pause (it waited for something of its own, a
   * transport's memory budget) and can go on: delivers what is held, as `resume` would.
   */
  protected deliverHeld(): void {
    this.deliver();
  }

  /** Adapter: the send buffer emptied; a drain handler that throws fails the connection. */
  protected drained(): void {
    if (this.stopped || this.over) return;
    try {
      this.handlers?.drain();
    } catch (err) {
      this.fail(asError(err));
    }
  }

  /** The peer's end, to the handler; without one, this side ends too (after its pending writes). */
  protected deliverEnd(h: H): void {
    if (h.end) h.end();
    else this.end();
  }

  /** `deliver` for a microtask, made at the first `resume`: an idle connection never needs it. */
  private deliverLater: (() => void) | undefined;

  private heldNothing(): boolean {
    return this.held === undefined || this.held.length === 0;
  }

  private reading(): boolean {
    return this.handlers !== undefined && !this.stopped && !this.over;
  }

  /** Delivers what is held, then the peer's end, then the close, as far as pause allows; re-entrant calls leave it to the outer one. */
  private deliver(): void {
    const h = this.handlers;
    if (h === undefined || (this.flags & (DELIVERING | REPORTED)) !== 0) return;
    this.flags |= DELIVERING;
    try {
      const held = this.held;
      if (held !== undefined) {
        while (held.length > 0 && !this.paused && !this.stopped) {
          if (!this.consume(held[0]!)) break;
          held.shift();
        }
      }
      if ((this.flags & (END_ARRIVED | PAUSED | STOPPED | OVER)) === END_ARRIVED && this.heldNothing()) {
        this.flags = (this.flags & ~END_ARRIVED) | END_REPORTED;
        this.deliverEnd(h);
      }
    } catch (err) {
      this.fail(asError(err));
    } finally {
      this.flags &= ~DELIVERING;
    }
    if ((this.flags & (OVER | REPORTED)) === OVER && this.heldNothing()) {
      this.flags |= REPORTED;
      this.dispose();
      h.close(this.reason);
    }
  }
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
