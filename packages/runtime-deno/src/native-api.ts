/**
 * The part of Deno's API this adapter uses, declared by hand so that the package typechecks on
 * Node. Module-scoped types (not a global `Deno`), so they never clash with Deno's own lib when
 * the sources are checked by Deno. Checked against Deno 2.
 */

export type DenoAddr = { transport: 'tcp'; hostname: string; port: number } | { transport: 'unix'; path: string };

export interface DenoConn {
  readonly remoteAddr: DenoAddr;
  /** Reads into `buffer`; the count, or null at EOF (the peer's FIN). */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `data` and resolves to how much: maybe not all of it. */
  write(data: Uint8Array): Promise<number>;
  /** shutdown(2) of the write side. */
  closeWrite(): Promise<void>;
  /** Frees the resource; pending reads and writes reject. */
  close(): void;
  /** TCP only. */
  setNoDelay?(noDelay?: boolean): void;
  /** TLS connections: runs the handshake (reads and writes run it too, implicitly). */
  handshake?(): Promise<{ alpnProtocol: string | null }>;
}

export interface DenoListener {
  readonly addr: DenoAddr;
  /** Rejects (BadResource) once the listener is closed. */
  accept(): Promise<DenoConn>;
  /** Stops listening; removes a Unix socket file. */
  close(): void;
}

export type DenoConnectOptions =
  | { transport: 'tcp'; hostname: string; port: number; signal?: AbortSignal }
  | { transport: 'unix'; path: string };

export type DenoListenOptions = { transport: 'tcp'; hostname: string; port: number } | { transport: 'unix'; path: string };

export interface DenoListenTlsOptions {
  transport: 'tcp';
  hostname: string;
  port: number;
  cert: string;
  key: string;
  alpnProtocols?: string[];
}

export interface DenoConnectTlsOptions {
  hostname: string;
  port: number;
  caCerts?: string[];
  alpnProtocols?: string[];
  cert?: string;
  key?: string;
}

export interface DenoApi {
  /** `hostname` is both what is dialled and the name the server's certificate must have. */
  connectTls(options: DenoConnectTlsOptions): Promise<DenoConn>;
  /** Upgrades a TCP connection; `hostname` is the name the certificate must have. No client certificate. */
  startTls(conn: DenoConn, options: Omit<DenoConnectTlsOptions, 'port' | 'cert' | 'key'>): Promise<DenoConn>;
  listenTls(options: DenoListenTlsOptions): DenoListener;
  connect(options: DenoConnectOptions): Promise<DenoConn>;
  listen(options: DenoListenOptions): DenoListener;
  lstat(path: string): Promise<{ isSocket: boolean | null }>;
  remove(path: string): Promise<void>;
}
