import { ErrorCode, RpcError } from '@skein/core';
import type { WebSocket } from 'ws';
import type { MessageConn } from './message-conn.js';

interface Watched {
  conn: MessageConn;
  alive: boolean;
  /** The conn's `readPauses` when the last ping went out, or -1 if it was not reading then. */
  readingSince: number;
}

/**
 * WebSocket-level keepalive for the ws server: every interval each connection is pinged, and
 * one that has not answered the previous ping by then is terminated (a dead peer, or one behind
 * a dropped NAT mapping, would otherwise hold its socket forever). The timer runs only while
 * there are connections, and never keeps the process alive on its own.
 */
export class Keepalive {
  private readonly watched = new Map<WebSocket, Watched>();
  private timer?: ReturnType<typeof setInterval>;

  constructor(private readonly intervalMs: number) {}

  add(ws: WebSocket, conn: MessageConn): void {
    if (this.intervalMs === 0) return;
    const w: Watched = { conn, alive: true, readingSince: -1 };
    this.watched.set(ws, w);
    ws.on('pong', () => (w.alive = true));
    ws.on('close', () => this.remove(ws));
    this.timer ??= setInterval(this.tick, this.intervalMs).unref();
  }

  private remove(ws: WebSocket): void {
    this.watched.delete(ws);
    if (this.watched.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private readonly tick = (): void => {
    for (const [ws, w] of this.watched) {
      const { conn } = w;
      // A pong is read like any message: one the peer sent while this side had stopped reading
      // (a paused connection) waits in the socket, so only a ping answered over a whole
      // interval of reading can count as missed.
      if (!w.alive && w.readingSince === conn.readPauses) {
        conn.abort(new RpcError(ErrorCode.Timeout, `keepalive: no pong within ${this.intervalMs} ms, connection dropped`));
        continue;
      }
      w.alive = false;
      w.readingSince = conn.readingPaused ? -1 : conn.readPauses;
      ws.ping();
    }
  };
}
