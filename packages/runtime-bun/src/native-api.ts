/**
 * The part of Bun's socket API this adapter uses, declared by hand so that the package
 * typechecks on Node without bun-types. Module-scoped types (not globals), so they never clash
 * with bun-types where an application has it. Checked against Bun 1.4.
 */

/** A connected socket. `Data` is what the adapter hangs on it (`socket.data`). */
export interface BunSocket<Data> {
  data: Data;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /**
   * Sends now (one send(2), no buffering in Bun) and returns how many bytes the kernel took:
   * possibly fewer than given, and -1 once the socket is closed or shut down for writing.
   */
  write(data: Uint8Array): number;
  /** shutdown(2) of the write side: sends FIN, the socket stays readable. */
  shutdown(): void;
  /** Closes the descriptor at once (FIN, not RST); the close handler runs before this returns. */
  close(): void;
  /** Stop and restart reading from the kernel. */
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
  /** TLS sockets: the peer's certificate, Node-style (subject, subjectaltname, fingerprint256); empty without one. */
  getPeerCertificate?(): { subject?: Record<string, string>; subjectaltname?: string; fingerprint256?: string } | null;
}

/** One set of handlers serves all the sockets of a listener (or the one socket of a connect). */
export interface BunSocketHandler<Data> {
  /** 'uint8array' hands `data` plain Uint8Arrays instead of Buffers. */
  binaryType?: 'uint8array';
  open?(socket: BunSocket<Data>): void;
  data?(socket: BunSocket<Data>, chunk: Uint8Array): void;
  /** The socket can take more after a short write. */
  drain?(socket: BunSocket<Data>): void;
  /** The peer sent FIN (with `allowHalfOpen` the socket stays writable). */
  end?(socket: BunSocket<Data>): void;
  /** Called once; `error` for a reset and the like. */
  close?(socket: BunSocket<Data>, error?: Error): void;
  /** A handler threw. */
  error?(socket: BunSocket<Data>, error: Error): void;
  /** The connect failed; `Bun.connect`'s promise rejects after this. */
  connectError?(socket: BunSocket<Data>, error: Error): void;
  /**
   * TLS: the handshake is over. `success` false: it failed (the socket closes). A certificate
   * that did not verify is `authorizationError` (CERT_HAS_EXPIRED, ...), with `success` true:
   * with `rejectUnauthorized` Bun closes the socket after this returns.
   */
  handshake?(socket: BunSocket<Data>, success: boolean, authorizationError: (Error & { code?: string }) | null): void;
}

export type BunTarget = { hostname: string; port: number } | { unix: string };

/** Bun's TLS options (Node's names; ALPN in wire format, versions as numbers: 0x0303 is TLS 1.2). */
export interface BunTlsOptions {
  cert?: string;
  key?: string;
  ca?: string[];
  serverName?: string;
  ALPNProtocols?: string;
  minVersion?: number;
  requestCert?: boolean;
  rejectUnauthorized?: boolean;
}

export interface BunSocketOptions<Data> {
  socket: BunSocketHandler<Data>;
  tls?: BunTlsOptions;
  /** Without it, Bun closes both directions as soon as the peer sends FIN. */
  allowHalfOpen?: boolean;
}

export interface BunSocketListener {
  /** The bound port (TCP). */
  readonly port: number;
  /** Stops accepting; with no argument, sockets already accepted stay open. Removes a Unix socket file. */
  stop(closeActiveConnections?: boolean): void;
}

export interface BunApi {
  connect<Data>(options: BunTarget & BunSocketOptions<Data>): Promise<BunSocket<Data>>;
  /** Throws at once (EADDRINUSE, ...) when it cannot listen. */
  listen<Data>(options: BunTarget & BunSocketOptions<Data>): BunSocketListener;
}
