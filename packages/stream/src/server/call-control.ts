import { ErrorCode, RpcError, type Clock } from '@skein/core';
import type { AbortSource } from '../client/call-options.js';
import { LazyAbort } from '../internals/lazy-abort.js';
import { lazyError } from '../internals/lazy-error.js';
import type { Metadata } from '../wire/call-head.js';
import type { RequestStream } from './request-stream.js';

/** Where a controlled call is tracked: its connection's extensions. */
export interface ControlOwner {
  /** The call was answered or abandoned: forget it. */
  untrack(control: CallControl): void;
}

/** The request a control belongs to, as far as the control needs it. */
export interface Controlled {
  readonly action: string | number;
  /** @internal As on ServerRequest (its published `implements Controlled` must ask no member left out there). Ends the call without its handler's answer: none at all, or the server's own error. */
  abandon(err: RpcError, answer: boolean): void;
}

/**
 * What a call that came with a head (or opened a stream) has beyond a plain one: its deadline,
 * its metadata, its own signal, its stream. Made only for such calls; a plain call has none.
 */
export class CallControl implements AbortSource {
  stream: RequestStream | undefined = undefined;
  /** Its abort: made when someone listens or it aborts, so most calls never make one. */
  private aborts: LazyAbort | undefined = undefined;
  private done = false;

  constructor(
    private readonly owner: ControlOwner,
    readonly req: Controlled,
    readonly seq: number,
    /** In the server clock's ms; undefined: none. */
    readonly deadline: number | undefined,
    readonly metadata: Metadata,
    private readonly clock: Clock,
  ) {}

  /** Ms left until the deadline, by the server's clock; undefined without one. */
  remainingMs(): number | undefined {
    return this.deadline === undefined ? undefined : this.deadline - this.clock.now();
  }

  /** Made on first access: most handlers never look. */
  get signal(): AbortSignal {
    return (this.aborts ??= new LazyAbort()).signal;
  }

  /** As ServerRequest.aborted. */
  get aborted(): boolean {
    return this.aborts?.aborted === true;
  }

  /** As ServerRequest.onAbort: `listener` told the reason once, at the abort; returns its unhook. */
  onAbort(listener: (reason: unknown) => void): () => void {
    return (this.aborts ??= new LazyAbort()).onAbort(listener);
  }

  /** The client (`by`; the server, for a reverse call) cancelled: nobody reads an answer, so none is sent; the slot is freed now. */
  cancel(by = 'the client'): void {
    const err = new RpcError(ErrorCode.Cancelled, `${this.name()}: cancelled by ${by}`);
    this.stream?.close(err);
    this.req.abandon(err, false);
    this.stop(err);
  }

  /** The deadline passed: answered Timeout now, whatever the handler does. */
  expire(): void {
    const err = new RpcError(ErrorCode.Timeout, `${this.name()}: deadline passed`);
    this.stream?.close(err);
    this.req.abandon(err, true);
    this.stop(err);
  }

  /** The connection is gone: no answer can reach anyone. */
  lost(cause: Error): void {
    this.stop(new RpcError(ErrorCode.IO, `${this.name()}: connection lost: ${cause.message}`, { cause }));
  }

  /** The request was answered, by the handler or by the above. */
  answered(): void {
    if (this.done) return;
    this.done = true;
    this.owner.untrack(this);
    // Made only if the handler reads or writes its stream after the answer (internals/lazy-error.ts).
    if (this.stream !== undefined) this.stream.close(lazyError(() => new RpcError(ErrorCode.Closed, `${this.name()}: the call was answered`)));
  }

  private stop(err: Error): void {
    this.stream?.close(err);
    this.answered();
    (this.aborts ??= new LazyAbort()).fire(err);
  }

  private name(): string {
    const a = this.req.action;
    return typeof a === 'string' ? a : `action ${a}`;
  }
}
