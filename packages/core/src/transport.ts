import type { Address } from './address.js';
import { RpcError, invalidArgument } from './rpc-error.js';
import type { LifecycleHandlers } from './conn-lifecycle.js';
import type { Logger } from './logger.js';
import type { PeerIdentity, TlsOptions } from './tls.js';

/**
 * The transport contract: frames over some connection (TCP bytes, WebSocket messages). The
 * stream layer supplies a FrameSpec, so a transport knows where frames end without knowing the
 * protocol.
 */
export interface Transport {
  readonly name: string;
  connect(address: Address, spec: FrameSpec, options?: TransportConnectOptions): Promise<FrameConn>;
  listen(address: Address, spec: FrameSpec, accept: (conn: FrameConn) => void, options?: TransportListenOptions): Promise<FrameListener>;
  /**
   * A transport made with TLS options: replaces the certificate, key and CA of the listeners it
   * opened (their later connections use them) and of its later connects, without a restart.
   * Connections already up keep theirs. Rejects with InvalidArgument where the runtime or
   * server cannot.
   */
  reloadTls?(tls: TlsOptions): Promise<void>;
  /**
   * How many `reloadTls` calls have been applied to the options later connects use: 0 until the
   * first, one more as each applies (before its promise resolves), unchanged by one that fails. A
   * connect begun once it reads higher uses the newer options, so a pool whose connect was
   * refused in a way no retry heals (by the transport itself, InvalidArgument: a key not its
   * certificate's; or by an mTLS server's alert refusing the client certificate, Unauthenticated:
   * `isHandshakeRefusal`) knows a reload may have mended it, and connects again at once. A method, not a field: a wrapper made by spreading a
   * transport (`{ ...inner, connect }`) keeps reading the live count. A wrapper that forwards
   * `reloadTls` forwards this too; without it a pool learns of a reload only at its next attempt.
   */
  tlsGeneration?(): number;
}

/**
 * A transport that always has `reloadTls` and `tlsGeneration`: what transport-tcp's and
 * transport-ws's factories return, so TypeScript callers need no `!`. Assignable to `Transport`.
 */
export interface ReloadableTransport extends Transport {
  /** See `Transport.reloadTls`; rejects with InvalidArgument on a transport made without `tls`. */
  reloadTls(tls: TlsOptions): Promise<void>;
  /** See `Transport.tlsGeneration`. */
  tlsGeneration(): number;
}

export interface TransportListenOptions {
  /**
   * Where the listener logs what concerns it rather than a connection (a TLS certificate that
   * expires soon, docs/tls.md): RpcServer passes its own logger. A transport with a logger of its
   * own uses it when this is not given.
   */
  logger?: Logger | undefined;
}

export interface TransportConnectOptions {
  timeoutMs?: number | undefined;
  /**
   * Gives the connect up when it aborts, wherever it is (TCP, a TLS handshake, a WebSocket
   * upgrade): it rejects with RpcError(Cancelled) (core's `connectAborted`; Timeout when the
   * signal's reason is a timeout, `AbortSignal.timeout(ms)`) and closes what it opened. Aborted already, it rejects before dialling; once the connection is up, it changes
   * nothing. A pool closing aborts its connects in progress with it.
   */
  signal?: AbortSignal | undefined;
  /**
   * Where the connect logs what concerns the client rather than this connection (a TLS client
   * certificate that expires soon, docs/tls.md: once per certificate, not per connect):
   * ClientStream passes its own logger. A transport with a logger of its own uses it when this
   * is not given.
   */
  logger?: Logger | undefined;
}

export interface FrameSpec {
  /** Fixed header size in bytes. */
  readonly headerLength: number;
  /**
   * Length of the body that follows the header at `bytes[at, at + headerLength)`. Throws to
   * reject the frame (bad magic, over a limit): the transport then closes the connection with
   * that error. Nothing is allocated for a body before this returns. The header is read where
   * it lies, so a transport makes no view (no object) per frame to ask. Called as the spec's
   * method (`spec.bodyLength(bytes, at)`, as `frameBodyLength` does), never detached: a spec may
   * read its own fields (a server's connection shares one function between all its specs).
   */
  bodyLength(bytes: Uint8Array, at: number): number;
  /**
   * The frames this side sends, when they differ from those it receives (a client sends
   * requests and reads responses). A transport that must find frame boundaries in what it sends
   * — to split a batch into messages — uses it; without it, both directions share this spec.
   */
  readonly outbound?: FrameSpec | undefined;
}

/**
 * What a transport's frame reader hands each whole frame to, at `bytes[start, end)` (as
 * FrameHandlers.frame); returns false to stop reading after it (the connection paused or
 * closed). One type for every transport's reader.
 */
export type FrameSink = (bytes: Uint8Array, start: number, end: number) => boolean;

export interface FrameHandlers extends LifecycleHandlers {
  /**
   * One whole frame, at `bytes[start, end)`: the spec's `headerLength` bytes of header, then
   * the body. `bytes` may be a received chunk that holds other frames too. It stays valid
   * (transports never reuse a buffer they have handed out), so the receiver may keep views of
   * it. Frames come as a place, not as views: at a million frames a second the views would
   * cost more than reading them (see docs/benchmarks.md), and most receivers need one view at
   * most, of the message they hand on.
   */
  frame(bytes: Uint8Array, start: number, end: number): void;
  drain(): void;
  /** The peer half-closed (see ByteHandlers.end); without it the transport closes after flushing. */
  end?(): void;
  close(err?: Error): void;
  /**
   * The connection is paused, cannot stop reading its socket (uWS), and what arrived meanwhile
   * went over its budget for holding (transport-ws's `maxHeldBytes`): a receiver paused only to
   * let the event loop turn, not for backpressure, resumes now and reads on, as the peer did
   * nothing wrong. Still paused after it (or without it), the transport drops the peer.
   */
  overHeld?(): void;
}

export interface FrameConn {
  readonly remote: string;
  /** The TLS peer's verified identity (see ByteConn.identity); undefined on plaintext. */
  readonly identity?: PeerIdentity | undefined;
  /**
   * True on an accepted connection whose `identity` may still come: its listener asks for client
   * certificates and hands connections over before their TLS handshake. A server can then tell a
   * peer known by its certificate only later (at the stream's hello); on any other connection,
   * what it knows at accept is all it will know of the certificate.
   */
  readonly identityPending?: boolean | undefined;
  bind(handlers: FrameHandlers): void;
  /**
   * Queues part of a frame. Parts go out in order, batched: those written in one synchronous
   * run leave together at the end of the current turn (or at `flush`), and a transport may send
   * a long run in several batches as it is written (its batch limits). A part shorter than SMALL_PART is copied
   * before `write` returns, so its memory may be reused at once (a scratch header buffer);
   * larger parts may be sent from the caller's buffer: do not modify them afterwards.
   */
  write(part: Uint8Array): void;
  /** Sends what is queued now. */
  flush(): void;
  /**
   * The writer of this run goes on writing right after an await (a stream item sent with credit
   * left): what this run queued may wait, past the end of the run, until the end of the
   * macrotask (within the batch limits), so that items written one await apart share a socket
   * write (core's RunBatch `defer`). Optional: without it, each run's writes leave at its end.
   */
  deferFlush?(): void;
  /** True while the connection's send buffer is over its high-water mark. */
  readonly congested: boolean;
  /**
   * True while part of a frame has arrived and the rest has not: the server's read timeout
   * closes a connection that stays so for too long. A transport that receives whole messages (a
   * WebSocket's) reports a message partly received where its library shows it, and may leave it
   * out where it cannot tell.
   */
  readonly midFrame?: boolean | undefined;
  /**
   * True while part of a frame (of a WebSocket message) has arrived and the rest has not, whether
   * bytes of it still come or not; reading it changes nothing. The server's keepalive counts it
   * as hearing from the peer: the answer to its ping waits behind the frame, and a large one on
   * a slow link takes long. Optional: a transport that cannot tell leaves it out.
   */
  readonly receiving?: boolean | undefined;
  /**
   * True while the frame under way waits for room in the transport's memory budget for partly
   * received frames (TCP's `maxPendingFrameBytes`, shared by a listener's connections): reading
   * is paused meanwhile, and `midFrame` stays true, so the read timeout still runs. The server's
   * close for that timeout says so. Optional: a transport without such a budget leaves it out.
   */
  readonly waitingForRoom?: boolean | undefined;
  /**
   * Bytes of this connection the kernel has taken so far (what the peer's window let through): a
   * count that only grows, read on demand (nothing is counted per write where the runtime keeps
   * it). The server's write-stall check watches it while `congested`: a connection whose peer
   * took no byte for keepaliveMs + keepaliveTimeoutMs is ended as lost (a frozen client behind a
   * full send buffer answers no ping, and TCP never times it out). Optional: a transport that
   * cannot tell leaves it out (undefined), and no such check is made on it.
   */
  readonly sentBytes?: number | undefined;
  /**
   * Bytes of this connection received from the peer so far (counted as each chunk the transport
   * reads arrives, whole frames or not): a count that only grows, read on demand. A client's
   * keepalive watches it while its ping is out: the answer waits behind the rest of a large reply
   * on a slow link, and bytes still arriving say the peer is alive; a peer frozen mid-frame sends
   * none. Optional: a transport that cannot tell leaves it out (undefined), and a ping is then
   * timed from when it was sent. transport-tcp counts it on every runtime; transport-ws only over
   * Node's `ws` (its socket's `bytesRead`), not over the standard WebSocket (browsers, Bun, Deno)
   * nor uWebSockets.js.
   */
  readonly receivedBytes?: number | undefined;
  /**
   * Cuts the frames received from now on by `spec` instead of the one the connection was made
   * with (its `headerLength` must be the same): a server that learns who the peer is holds it to
   * that kind's limits, and a header over them is refused as it arrives, before its body is
   * buffered. A frame whose header was already read goes on under the spec it was read by.
   * Optional: without it the connection keeps its spec, and the layer above checks each whole
   * frame itself.
   */
  setFrameSpec?(spec: FrameSpec): void;
  /**
   * The largest whole frame (header included) this connection's transport carries from the peer
   * to this side (transport-ws: `maxWsMessageBytes`; transport-tcp: `maxPendingFrameBytes`): a
   * larger one closes the connection. A server names it in its hello's answer where its limits
   * would allow more (kind 26's `max_frame`), so that a client refuses such a request unsent.
   * Optional: left out, the transport sets no such bound.
   */
  readonly maxFrameBytes?: number | undefined;
  /**
   * The largest frame the peer's transport carries from this side (the peer's `maxFrameBytes`:
   * a client calls it with the `max_frame` its server's hello's answer names, kind 26's; a server
   * with the one its client's hello names, kind 1's): from now on the connection never sends
   * a unit the peer's bound applies to over it. A transport that packs several frames into one
   * such unit (transport-ws: a WebSocket message, up to `maxBatchBytes`) packs at most this many
   * bytes in it; a single larger frame is the caller's to refuse (the stream layer does, unsent).
   * Called at most a few times per connection, never per frame. Optional: a transport whose
   * peer bounds each frame alone (a byte stream) needs nothing more.
   */
  setPeerMaxFrameBytes?(bytes: number): void;
  pause(): void;
  resume(): void;
  /** Flushes, then half-closes. */
  end(): void;
  close(): void;
}

/** Parts shorter than this are copied by every transport's `write` (see FrameConn.write). */
export const SMALL_PART = 1024;

export interface FrameListener {
  /** Where it is bound: of the kind asked for (a path for a path; for a host, its bound port). */
  readonly address: Address;
  /**
   * True for a listener whose connections are TLS, whether its transport's options or a `tls://`
   * address asked for it (`address` names where it is bound, as asked, and so may not say).
   * Optional: left out, `address.tls` says. What a server's `listening` line reads.
   */
  readonly tls?: boolean | undefined;
  /** The largest whole frame its connections carry (FrameConn.maxFrameBytes): RpcServer warns at listen of limits that allow more. Optional: no such bound. */
  readonly maxFrameBytes?: number | undefined;
  close(): Promise<void>;
}

/**
 * A peer broke framing: the transport closes the connection with this error. `lastWords`, when
 * given, are sent (and flushed) before the close: the protocol's error reply, so that the peer
 * learns why.
 */
export class FrameError extends Error {
  override readonly name = 'FrameError';
  constructor(
    message: string,
    readonly lastWords?: Uint8Array,
  ) {
    super(message);
  }
}

/** Throws InvalidArgument unless the spec's header length is a positive byte count: a length of 0 would read empty frames forever from no bytes. */
export function checkFrameSpec(spec: FrameSpec): void {
  if (!Number.isSafeInteger(spec.headerLength) || spec.headerLength < 1) {
    throw invalidArgument(`frame spec headerLength ${spec.headerLength} is not a positive byte count`);
  }
}

/** Throws InvalidArgument unless `next` may replace `current` on a live connection (FrameConn.setFrameSpec): other limits, the same header length. */
export function checkFrameSpecSwap(current: FrameSpec, next: FrameSpec): void {
  checkFrameSpec(next);
  if (next.headerLength !== current.headerLength) {
    throw invalidArgument(`a connection's frame spec may change its limits, not its header length (${current.headerLength}, not ${next.headerLength})`);
  }
}

/**
 * `spec.bodyLength(bytes, at)` as a transport must take it: whatever the spec throws, or returns
 * that is not a byte count, is a FrameError (the peer broke framing, or the spec did), so the
 * transport closes that connection. A FrameError or RpcError is kept as it is (its last words,
 * its code: FrameTooLarge lets a close code say "too big").
 */
export function frameBodyLength(spec: FrameSpec, bytes: Uint8Array, at: number): number {
  let length: number;
  try {
    length = spec.bodyLength(bytes, at);
  } catch (err) {
    if (err instanceof FrameError || err instanceof RpcError) throw err;
    throw new FrameError(`frame header rejected: ${(err as Error)?.message ?? String(err)}`);
  }
  if (!Number.isSafeInteger(length) || length < 0) throw new FrameError(`frame spec gave a body length of ${length}, not a byte count`);
  return length;
}
