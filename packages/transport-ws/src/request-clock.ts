import type { Duplex } from 'node:stream';
import type { EventEmitter } from 'node:events';
import type { ResolvedOptions } from './options.js';

/**
 * Bun's wss: its https server does the TLS and reads the HTTP request itself, and shows a
 * connection first at its handshake's end ('connection'), then at its upgrade request, where the
 * ws server takes it (ws-server.ts). Left to Bun, a connection that sends no request in between
 * is held about 12 s whatever upgradeTimeoutMs says; this clock closes it at upgradeTimeoutMs.
 * Before the request it holds no place in the server's cap, so closing it frees none; from the
 * request, what is left of the time bounds the upgrade (the hook) as on Node.
 */
export class RequestClock {
  private readonly started = new WeakMap<Duplex, { at: number; timer: ReturnType<typeof setTimeout> }>();

  constructor(private readonly options: ResolvedOptions) {}

  /** Starts a clock on each connection `server` shows (Bun's https server: at its handshake's end). */
  watch(server: EventEmitter): void {
    server.on('connection', this.start);
  }

  /** Its upgrade request came: the clock stops; returns the time left of upgradeTimeoutMs. */
  stop(socket: Duplex): number {
    const c = this.started.get(socket);
    if (c === undefined) return this.options.upgradeTimeoutMs;
    this.started.delete(socket);
    clearTimeout(c.timer);
    return Math.max(0, this.options.upgradeTimeoutMs - (performance.now() - c.at));
  }

  private readonly start = (socket: Duplex): void => {
    // Bun shows a socket that never finished its handshake only as it closes.
    if (socket.destroyed || this.started.has(socket)) return;
    const timer = setTimeout(() => this.timedOut(socket), this.options.upgradeTimeoutMs);
    timer.unref();
    this.started.set(socket, { at: performance.now(), timer });
    socket.once('close', () => this.stop(socket));
  };

  private timedOut(socket: Duplex): void {
    this.started.delete(socket);
    this.options.logger.warn({ remote: (socket as { remoteAddress?: string }).remoteAddress, reason: `no WebSocket upgrade request within ${this.options.upgradeTimeoutMs} ms` }, 'WebSocket upgrade not done: closing the connection');
    socket.destroy();
  }
}
