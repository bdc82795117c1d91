import { ErrorCode, RpcError, type Logger, type PeerIdentity } from '@skein/core';
import { LazyAbort, type AbortSource, type Caller, type ConnKind, type ServerRequest } from '@skein/stream';
import type { FilterWatch } from './filters.js';
import { noop } from './when-aborted.js';

/** What a handler knows about its call besides the argument. */
export class CallContext implements FilterWatch, AbortSource {
  /**
   * The call's abort, as this context heard it (see `link`): its signal made only if read, its
   * listeners (the calls made with `{ ctx }`) told without one. Made when first needed.
   */
  private aborts: LazyAbort | undefined = undefined;
  private linked = false;
  private unlink: (() => void) | undefined;
  /** Answered: what links now links to nothing (see `signal`). */
  private finished = false;
  /** @internal The timeout sweep's tick count when the call started; -1 while in no sweep. */
  sweepTick = -1;
  /** @internal The timeout sweep's list of running calls, threaded through them (timeout-sweep.ts). */
  sweepPrev: CallContext | undefined = undefined;
  /** @internal */
  sweepNext: CallContext | undefined = undefined;
  private _meta: Record<string, unknown> | undefined;

  constructor(
    private readonly req: ServerRequest,
    readonly service: string,
    readonly method: string,
    readonly logger: Logger,
  ) {}

  /** The peer's address, e.g. `127.0.0.1:51234` or `unix:/tmp/x.sock`. */
  get peer(): string {
    return this.req.conn.remote;
  }

  /**
   * Who the client is: what the server's `authenticate` hook accepted the connection's
   * credentials as (the latest ones, after a renewal). Undefined when it did not authenticate.
   */
  get principal(): unknown {
    return this.req.principal;
  }

  /**
   * What the server filters noted about this call (their `info.meta`): `bearerAuth` puts the
   * principal of the call's own token in `meta.principal`. Empty without filters.
   */
  get meta(): Record<string, unknown> {
    return (this._meta ??= {});
  }

  /** @internal The filters' `info.meta` is the handler's `ctx.meta`. */
  shareMeta(meta: Record<string, unknown>): void {
    this._meta = meta;
  }

  /** The peer's verified TLS identity (subject, SANs, fingerprint) on an mTLS connection; undefined otherwise. */
  get identity(): PeerIdentity | undefined {
    return this.req.conn.identity;
  }

  /**
   * Calls the services the other side of this connection serves, over this connection: it
   * connected with `serve` and the hello agreed calls both ways (docs/protocol.md). Give it to
   * `createClient(Def, ctx.caller, { codec })`. Undefined when that side serves nothing (a razor
   * v1 client, a Skein client without `serve`). In a WorkerPool's worker it calls through the
   * pool, with the same outcomes (@skein/workers README, "Calls both ways"). The connection's
   * one caller (a client made over it is found again at every call); a call back made with
   * `{ ctx }` still goes once the server's close began, while this call runs (the drain waits
   * for its handler), where one without it is refused then, Closed, unsent.
   */
  get caller(): Caller | undefined {
    return this.req.conn.caller;
  }

  /** @internal AbortSource's: its request came over `conn` and is unanswered (a call back made with `{ ctx }` goes in the server's drain). */
  unansweredOn(conn: object): boolean {
    return this.req.unansweredOn(conn);
  }

  /** `'peer'` or `'client'`, as the server's `peers.admit` decided (a server without `peers` has only clients). */
  get connKind(): ConnKind {
    return this.req.conn.kind ?? 'client';
  }

  /** The connection's id, unique per server. */
  get connectionId(): number {
    return this.req.conn.id;
  }

  /** The transport's name: `tcp`, `ws`... */
  get transport(): string {
    return this.req.conn.transport;
  }

  /** The request's blob section, for peers that send bulk bytes beside the argument. */
  get blob(): Uint8Array {
    return this.req.blob;
  }

  /**
   * Fires when nobody waits for the answer any more: the client cancelled the call (Cancelled),
   * its deadline passed (Timeout), the connection closed (IO), or the call passed the server's
   * `handlerTimeoutMs`. Made on first access, so handlers that never look pay nothing. Give
   * `ctx` to the calls a handler makes (`{ ctx }`) and they are cancelled with it. First read
   * after the call was answered (by work the handler left running), it is linked to nothing: a
   * plain call's source is its connection's signal, which would keep a listener per such call.
   */
  get signal(): AbortSignal {
    const aborts = (this.aborts ??= new LazyAbort());
    this.link();
    return aborts.signal;
  }

  /**
   * `signal` has fired, read without making it: what a call made with `{ ctx }` checks before it
   * goes (it fails at once: Timeout when the call's deadline or handlerTimeoutMs passed, else Cancelled).
   */
  get aborted(): boolean {
    this.link();
    return this.aborts?.aborted === true;
  }

  /**
   * `listener` is told the reason once, when `signal` fires (at once when it has), without the
   * signal being made for it; returns its unhook. What a call made with `{ ctx }` is cancelled
   * through (`CallOptions.abortSource`): on Node 20 an AbortSignal and a listener on it cost a busy
   * server more than the rest of a hop. Linked to nothing once the call was answered, as `signal`.
   */
  onAbort(listener: (reason: unknown) => void): () => void {
    this.link();
    // Aborted: told at once, answered or not; answered and not aborted: linked to nothing.
    if (this.finished && this.aborts?.aborted !== true) return noop;
    return (this.aborts ??= new LazyAbort()).onAbort(listener);
  }

  /**
   * Listens to the request, once, without a signal of its own made for it (ServerRequest.onAbort).
   * After the call was answered it links to nothing, but hears at once of an abort that came before.
   */
  private link(): void {
    if (this.linked) return;
    this.linked = true;
    const unlink = this.req.onAbort((why) => this.abortWith(why instanceof RpcError ? why : new RpcError(ErrorCode.IO, 'connection closed')));
    if (this.finished) unlink();
    else this.unlink = unlink;
  }

  private abortWith(err: RpcError): void {
    (this.aborts ??= new LazyAbort()).fire(err);
  }

  /**
   * Fires when the server begins to close (`server.close()`; for a client that serves calls both
   * ways, when it begins to close): no new calls come, and the close waits up to `closeWaitMs`
   * for those running. Not a cancel, unlike `signal`: the call is still waited for and its
   * answer still goes out. A feed that runs until told (`async *watch()`) ends on it, returning
   * normally, so its client sees the stream end and the close need not wait for it. The
   * server's one signal, shared by all its calls: nothing is made per call. A listener added to
   * it stays until the server closes: add it with `{ once: true }` and remove it when the call
   * ends (`finally`), or poll `ctx.draining.aborted`.
   */
  get draining(): AbortSignal {
    return this.req.conn.draining;
  }

  /**
   * When the client stops waiting, in the server clock's ms (`performance.now()` by default, not
   * the epoch: compare it with `performance.now()`, or use `remainingMs()`): the arrival time plus
   * the time left the client sent. Undefined when the call
   * came without a deadline. The server answers Timeout at it, whatever the handler does.
   */
  get deadline(): number | undefined {
    return this.req.deadline;
  }

  /**
   * Ms left until the deadline (negative once past), by the server's clock; undefined without a
   * deadline. A call made with `{ ctx }` takes this as its timeout.
   */
  remainingMs(): number | undefined {
    return this.req.remainingMs();
  }

  /**
   * The call's metadata as the client sent it (`authorization`, a trace context...); empty when
   * none. Behind @skein/otel's `tracedDispatch` its trace context is the server span's, in place of
   * the client's.
   */
  get metadata(): Readonly<Record<string, string>> {
    return this.req.metadata;
  }

  /**
   * Sets the entry `key` of the metadata sent back with this call's answer, ok or error (a
   * session id, a rate-limit count, a server timing); in a streaming method, with the stream's
   * end, after its items (gRPC's trailers): set it any time before the handler returns or throws
   * (a generator's `finally` too). The client reads it with the call option `onReplyMetadata`
   * (docs/protocol.md, "Reply metadata"). A key set again takes the new value.
   * Throws InvalidArgument for an
   * entry no head carries (a key that is no string of 1 to 255 bytes, a value that is no string
   * of at most 65,535), FrameTooLarge when the entries together would be over what the client
   * reads (its `limits.maxReplyMetadata`, 8 KiB by default, each entry counted 32 bytes besides
   * its own, within its reply limits); that entry is then not kept. In a WorkerPool's worker, the
   * same (checked there, sent back with the answer). Dropped unsaid for a client whose hello did
   * not agree it (a razor v1 client, an older Skein one), and once the call is answered (a stream
   * ended, cancelled by its client or past its deadline).
   */
  setReplyMetadata(key: string, value: string): void {
    this.req.setReplyMetadata(key, value);
  }

  /** @internal The call ran past the server's handler timeout: abort it and answer Timeout. */
  timeOut(): void {
    const err = new RpcError(ErrorCode.Timeout, `${this.service}.${this.method} ran too long`);
    // Kept if nobody looked yet: a stream's generator may first look at its signal later.
    this.abortWith(err);
    // Answered: its link to the connection's signal goes now, not when (if ever) the handler ends.
    this.finish();
    // A call its client abandoned first was answered then: a late answer would tell the
    // connection this handler ended (ServerRequest.handlerEnded), and it runs on.
    if (this.req.isAnswered) return;
    // The handler may run on (it ignores its signal): it counts against its connection until it
    // ends, as an abandoned call's does; counted before the answer frees its slot.
    this.req.runsOn();
    this.req.fail(err);
  }

  /**
   * Ends the server filters of a call nobody waits for any more (cancelled, past its
   * deadline or the handler timeout, its connection gone) while a `before` awaits: its handler
   * will not start.
   */
  watchFilters(stop: (reason: unknown) => void): () => void {
    return this.onAbort(stop);
  }

  /** @internal The call is answered: stop listening to the connection. */
  finish(): void {
    this.finished = true;
    this.unlink?.();
  }
}
