import type { Address } from './address.js';
import type { LifecycleHandlers } from './conn-lifecycle.js';
import type { PeerIdentity, TlsOptions } from './tls.js';

/**
 * The runtime contract: what Skein needs from Node, Bun or Deno. Transports build on it; runtimes
 * implement it; neither depends on the other. Every runtime package lays it out the same way:
 * `runtime.ts` (this object), `connect.ts`, `listener.ts`, `byte-conn.ts` (a ByteConnLifecycle:
 * only how that runtime reads, pauses, writes and closes), `socket-address.ts` and
 * `socket-file.ts` (the runtime's primitives for clearStaleSocket), `tls.ts` (core's TlsOptions
 * in the runtime's terms: what it can do, and InvalidArgument for what it cannot); Bun and Deno add
 * `native-api.ts`, their hand-written declarations of the runtime's own API.
 */
export interface Runtime {
  readonly name: 'node' | 'bun' | 'deno' | (string & {});
  connect(address: Address, options?: ConnectOptions): Promise<ByteConn>;
  listen(address: Address, accept: (conn: ByteConn) => void, options?: ListenOptions): Promise<ByteListener>;
  /**
   * Loads `tls` as a connect's (its certificate, key and CA, into the runtime's TLS library)
   * without dialling, and rejects with the InvalidArgument a TLS listener's reloadTls gives for
   * the same pair (core's unusableTls: a key that is not the certificate's, PEM that does not
   * load). A transport's reloadTls awaits it before it changes anything, so that a client-only
   * transport refuses such a pair at the reload rather than at its next connect. Optional: without
   * it only core's structural check (resolveTls) runs at a reload.
   */
  loadConnectTls?(tls: TlsOptions): Promise<void>;
  readonly clock: Clock;
}

/**
 * Whether `value` has a Runtime's shape (`connect`, `listen`, `clock`): what plain JS passes as
 * one (`tcpTransport(x)`) is checked by it, so that a transport refuses another value with words
 * rather than failing later on a field of it, and one that takes options refuses a Runtime given
 * in their place (`wsTransport(nodeRuntime)`).
 */
export function isRuntime(value: unknown): value is Runtime {
  if (typeof value !== 'object' || value === null) return false;
  const o = value as Record<string, unknown>;
  return typeof o.connect === 'function' && typeof o.listen === 'function' && 'clock' in o;
}

/** ConnectOptions.timeoutMs when not given. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface ConnectOptions {
  /** Fails with Unreachable when the connection is not up by then. Default 10 s. */
  timeoutMs?: number | undefined;
  /**
   * Gives the connect up when it aborts, wherever it is (TCP, the TLS handshake): it rejects with
   * RpcError(Cancelled) (core's `connectAborted`; Timeout when the signal's reason is a timeout,
   * `AbortSignal.timeout(ms)`) and closes what it opened. Aborted already, it
   * rejects before dialling; aborted once the connection is up, it changes nothing.
   */
  signal?: AbortSignal | undefined;
  /** Disable Nagle's algorithm (TCP only). Default true. */
  noDelay?: boolean | undefined;
  /**
   * TLS on this connection (TCP, and Unix sockets where the runtime allows). The connect
   * resolves once the handshake is done and the server's certificate verified; a failed
   * handshake rejects with core's `tlsFailure` (Unauthenticated or Unreachable, saying why).
   */
  tls?: TlsOptions | undefined;
}

export interface ListenOptions {
  /**
   * TLS for every accepted connection. An accepted connection is handed to `accept` at once,
   * before its handshake (so it counts against a server's connection cap while it handshakes);
   * no byte of it is delivered until the handshake is done and, with `requestCert`, the client
   * certificate verified. A failed or stalled handshake closes it with the reason.
   */
  tls?: TlsOptions | undefined;
}

/** Callbacks a byte connection reports to. Bound once, right after connect or accept. */
export interface ByteHandlers extends LifecycleHandlers {
  /** A received chunk, owned by the receiver from now on (an adapter whose runtime reuses read buffers copies them first). */
  data(chunk: Uint8Array): void;
  /** The write buffer has emptied after `write` returned false. */
  drain(): void;
  /**
   * The peer half-closed: it will send nothing more, but may still read. Without this handler
   * the adapter closes the connection once its pending writes are sent.
   */
  end?(): void;
  /** The connection is gone. Called exactly once; `err` when it was not a clean close. */
  close(err?: Error): void;
}

/** A connected byte stream (TCP or Unix socket). */
export interface ByteConn {
  /** Printable peer address, for logs. */
  readonly remote: string;
  /**
   * The TLS peer's verified identity: on an accepted connection, the client certificate
   * (`requestCert`); on a connect, the server's. Undefined on plaintext, before the handshake,
   * or where the runtime cannot tell (Deno).
   */
  readonly identity?: PeerIdentity | undefined;
  /** Binds the handlers; data that arrived before is delivered now. */
  bind(handlers: ByteHandlers): void;
  /**
   * Writes the chunks in order as one batch, without copying them where the runtime allows.
   * Returns false when the runtime's buffer is over its high-water mark: wait for `drain`.
   */
  write(chunks: readonly Uint8Array[]): boolean;
  /**
   * Bytes the kernel has taken so far (FrameConn.sentBytes): only grows, and grows whenever the
   * peer's window lets bytes through. Optional: a runtime that cannot tell leaves it out.
   */
  readonly sentBytes?: number | undefined;
  /** Stops delivering data (the kernel buffer then fills and the peer slows down). */
  pause(): void;
  resume(): void;
  /** Half-close: no more writes from this side; pending writes are sent first. */
  end(): void;
  /** Closes at once. */
  close(): void;
}

export interface ByteListener {
  /** The bound address (with the real port when 0 was asked for). */
  readonly address: Address;
  /**
   * TLS listeners: later connections get this certificate, key and CA (the rest of the TLS
   * options stay as listen had them); connections already up keep theirs. Rejects with
   * InvalidArgument where the runtime cannot.
   */
  reloadTls?(tls: TlsOptions): Promise<void>;
  /** Stops accepting; connections already accepted are left alone. */
  close(): Promise<void>;
}

/** Time, for timeouts and keepalive. Tickers must not keep a process alive on their own. */
export interface Clock {
  now(): number;
  /**
   * Runs `tick` every `ms`. A period no timer can hold (NaN, 0 or less, past 2^31-1 ms, where
   * timers fire at once) throws InvalidArgument (core's `timerPeriod`, which a Clock checks with).
   */
  every(ms: number, tick: () => void): Ticker;
}

export interface Ticker {
  stop(): void;
  /**
   * Keeps the process alive while the ticker runs, until `unref()`: a pool refs its ticker while
   * calls wait for a connection, so that a script awaiting one does not exit under it.
   * Optional: a clock without it cannot hold the process.
   */
  ref?(): void;
  /** Back to the default: the ticker alone does not keep the process alive. */
  unref?(): void;
}
