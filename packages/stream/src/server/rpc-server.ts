import {
  invalidArgument,
  parseAddress,
  silentLogger,
  systemClock,
  type Address,
  type Clock,
  type FrameConn,
  type FrameListener,
  type Logger,
  type Ticker,
  type Transport,
} from '@skein/core';
import type { Dispatch } from './dispatch.js';
import { requestFrameSpec } from '../wire/frame-specs.js';
import { resolveLimits, type Limits } from '../wire/limits.js';
import { ServerConn } from './connection.js';

export interface RpcServerOptions {
  dispatch: Dispatch;
  logger?: Logger;
  limits?: Partial<Limits>;
  /** Requests handled at once per connection; past it the server stops reading that socket. Default 1024. */
  maxInFlightPerConn?: number;
  /** A connection that sends no frame for this long is closed. Default 120 s; 0 disables. */
  idleTimeoutMs?: number;
  /** How long `close()` lets in-flight requests finish before cutting connections. Default 90 s. */
  closeWaitMs?: number;
  clock?: Clock;
  /** How often idle connections are looked for. Default 1 s. */
  tickMs?: number;
}

export type ServerState = 'running' | 'closing' | 'closed';

/**
 * Accepts connections on any number of listeners (TCP, Unix, WebSocket...) and hands every
 * request to one Dispatch.
 */
export class RpcServer {
  private readonly dispatcher: Dispatch;
  private readonly logger: Logger;
  private readonly limits: Limits;
  private readonly clock: Clock;
  private readonly maxInFlight: number;
  private readonly idleTimeoutMs: number;
  private readonly closeWaitMs: number;
  private readonly tickMs: number;
  private readonly listeners = new Set<FrameListener>();
  private readonly conns = new Set<ServerConn>();
  private ticker: Ticker | undefined;
  private nextConnId = 1;
  private _state: ServerState = 'running';
  private closing: Promise<void> | undefined;
  private allClosed: (() => void) | undefined;

  constructor(opts: RpcServerOptions) {
    if (!opts || typeof opts.dispatch?.dispatch !== 'function') throw invalidArgument('RpcServer needs a dispatch');
    this.dispatcher = opts.dispatch;
    this.logger = opts.logger ?? silentLogger;
    this.limits = resolveLimits(opts.limits);
    this.clock = opts.clock ?? systemClock;
    this.maxInFlight = opts.maxInFlightPerConn ?? 1024;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 120_000;
    this.closeWaitMs = opts.closeWaitMs ?? 90_000;
    this.tickMs = opts.tickMs ?? 1000;
  }

  get state(): ServerState {
    return this._state;
  }

  /** Open connections. */
  get connections(): number {
    return this.conns.size;
  }

  /** Starts accepting on `address` through `transport`; resolves with the bound address. */
  async listen(transport: Transport, address: string | Address): Promise<Address> {
    if (this._state !== 'running') throw invalidArgument('server is closing');
    const listener = await transport.listen(parseAddress(address), requestFrameSpec(this.limits), (conn) =>
      this.accept(transport.name, conn),
    );
    this.listeners.add(listener);
    this.ticker ??= this.clock.every(this.tickMs, () => this.tick());
    this.logger.info({ address: listener.address, transport: transport.name }, 'listening');
    return listener.address;
  }

  /**
   * Stops accepting, lets in-flight requests finish (up to `closeWaitMs`), then closes every
   * connection. Resolves when no listener, connection or timer of the server is left.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private accept(transport: string, conn: FrameConn): void {
    if (this._state !== 'running') return conn.close();
    const sc = new ServerConn(conn, {
      id: this.nextConnId++,
      transport,
      dispatch: this.dispatcher,
      logger: this.logger,
      maxInFlight: this.maxInFlight,
      onClosed: (c) => this.forget(c),
    });
    sc.lastFrameAt = this.clock.now();
    this.conns.add(sc);
    conn.bind(sc);
  }

  private forget(conn: ServerConn): void {
    this.conns.delete(conn);
    if (this.conns.size === 0) this.allClosed?.();
  }

  private tick(): void {
    if (this.idleTimeoutMs <= 0) return;
    const now = this.clock.now();
    for (const c of this.conns) {
      if (c.sawFrame || c.inFlight > 0) {
        c.sawFrame = false;
        c.lastFrameAt = now;
      } else if (now - c.lastFrameAt >= this.idleTimeoutMs) {
        this.logger.info({ remote: c.conn.remote }, 'closing idle connection');
        c.forceClose();
      }
    }
  }

  private async shutdown(): Promise<void> {
    this._state = 'closing';
    await Promise.all([...this.listeners].map((l) => l.close()));
    this.listeners.clear();
    if (this.conns.size > 0) {
      const done = new Promise<void>((resolve) => (this.allClosed = resolve));
      for (const c of this.conns) c.startDrain();
      const timer = setTimeout(() => {
        this.logger.warn({ connections: this.conns.size }, 'close wait over: cutting connections');
        for (const c of this.conns) c.forceClose();
      }, this.closeWaitMs);
      await done;
      clearTimeout(timer);
    }
    this.ticker?.stop();
    this.ticker = undefined;
    this._state = 'closed';
  }
}
