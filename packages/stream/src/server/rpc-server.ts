import {
  ErrorCode,
  RpcError,
  formatAddress,
  invalidArgument,
  parseAddress,
  type Address,
  type FrameConn,
  type FrameListener,
  type Ticker,
  type Transport,
} from '@skein/core';
import { requestFrameSpec } from '../wire/frame-specs.js';
import { ServerConn } from './connection.js';
import { resolveServerOptions, type RpcServerOptions, type ServerSettings } from './server-options.js';

export type { RpcServerOptions } from './server-options.js';
export type ServerState = 'running' | 'closing' | 'closed';

/**
 * Accepts connections on any number of listeners (TCP, Unix, WebSocket...) and hands every
 * request to one Dispatch.
 */
export class RpcServer {
  private readonly settings: ServerSettings;
  private readonly listeners = new Set<FrameListener>();
  /** Listens under way: `close()` waits for them, and each closes its own listener if it lost the race. */
  private readonly opening = new Set<Promise<unknown>>();
  private readonly conns = new Set<ServerConn>();
  private ticker: Ticker | undefined;
  private nextConnId = 1;
  /** Connections refused since the last one accepted: the warn line is written for the first. */
  private refused = 0;
  private _state: ServerState = 'running';
  private closing: Promise<void> | undefined;
  private allClosed: (() => void) | undefined;

  constructor(opts: RpcServerOptions) {
    this.settings = resolveServerOptions(opts);
  }

  get state(): ServerState {
    return this._state;
  }

  /** Open connections. */
  get connections(): number {
    return this.conns.size;
  }

  /**
   * Starts accepting on `address` through `transport`; resolves with the bound address. A
   * `close()` that begins meanwhile wins: the listener is closed before `close()` resolves, and
   * this rejects with Closed.
   */
  listen(transport: Transport, address: string | Address): Promise<Address> {
    if (this._state !== 'running') return Promise.reject(invalidArgument('server is closing'));
    const listening = this.open(transport, address);
    const done = (): void => void this.opening.delete(settled);
    const settled: Promise<void> = listening.then(done, done);
    this.opening.add(settled);
    return listening;
  }

  /**
   * Stops accepting, lets in-flight requests finish (up to `closeWaitMs`), then closes every
   * connection. Resolves when no listener, connection or timer of the server is left.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async open(transport: Transport, address: string | Address): Promise<Address> {
    const { limits, clock, tickMs, logger } = this.settings;
    const listener = await transport.listen(parseAddress(address), requestFrameSpec(limits), (conn) => this.accept(transport.name, conn));
    if (this._state !== 'running') {
      await listener.close();
      throw new RpcError(ErrorCode.Closed, `server closed while it began listening on ${formatAddress(listener.address)}`);
    }
    this.listeners.add(listener);
    this.ticker ??= clock.every(tickMs, () => this.tick());
    logger.info({ address: listener.address, transport: transport.name }, 'listening');
    return listener.address;
  }

  private accept(transport: string, conn: FrameConn): void {
    if (this._state !== 'running') return conn.close();
    if (this.conns.size >= this.settings.maxConnections) return this.refuse(conn);
    if (this.refused > 0) {
      this.settings.logger.info({ refused: this.refused }, 'accepting connections again');
      this.refused = 0;
    }
    const sc = new ServerConn(conn, {
      id: this.nextConnId++,
      transport,
      dispatch: this.settings.dispatch,
      logger: this.settings.logger,
      maxInFlight: this.settings.maxInFlightPerConn,
      onClosed: (c) => this.forget(c),
    });
    sc.lastFrameAt = this.settings.clock.now();
    this.conns.add(sc);
    conn.bind(sc);
  }

  /**
   * At the cap: closed before anything is read, so that a flood of connections costs an accept
   * and a close each. Requests a client sent on it fail on its side with IO.
   */
  private refuse(conn: FrameConn): void {
    if (this.refused++ === 0) {
      this.settings.logger.warn(
        { remote: conn.remote, maxConnections: this.settings.maxConnections },
        'connection limit reached: refusing new connections',
      );
    }
    conn.close();
  }

  private forget(conn: ServerConn): void {
    this.conns.delete(conn);
    if (this.conns.size === 0) this.allClosed?.();
  }

  private tick(): void {
    const { idleTimeoutMs, clock, logger } = this.settings;
    if (idleTimeoutMs <= 0) return;
    const now = clock.now();
    for (const c of this.conns) {
      if (c.sawCall || c.inFlight > 0) {
        c.sawCall = false;
        c.lastFrameAt = now;
      } else if (now - c.lastFrameAt >= idleTimeoutMs) {
        logger.info({ remote: c.conn.remote }, 'closing idle connection');
        c.forceClose();
      }
    }
  }

  private async shutdown(): Promise<void> {
    this._state = 'closing';
    // A listen under way sees the state and closes its own listener; wait for that.
    await Promise.all(this.opening);
    await Promise.all([...this.listeners].map((l) => l.close()));
    this.listeners.clear();
    if (this.conns.size > 0) {
      const done = new Promise<void>((resolve) => (this.allClosed = resolve));
      for (const c of this.conns) c.startDrain();
      const timer = setTimeout(() => {
        this.settings.logger.warn({ connections: this.conns.size }, 'close wait over: cutting connections');
        for (const c of this.conns) c.forceClose();
      }, this.settings.closeWaitMs);
      await done;
      clearTimeout(timer);
    }
    this.ticker?.stop();
    this.ticker = undefined;
    this._state = 'closed';
  }
}
