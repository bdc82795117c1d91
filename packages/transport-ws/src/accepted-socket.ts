import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { ErrorCode, RpcError, type FrameSpec } from '@skein/core';
import type { WebSocket } from 'ws';
import { CloseCode } from './close-codes.js';
import type { MessageConn } from './message-conn.js';
import type { ResolvedOptions } from './options.js';
import { upgradingWsConn } from './ws-socket.js';
import type { PendingMessages } from './pending-messages.js';

/**
 * A socket the ws server accepted, from TCP accept to its WebSocket upgrade. Its connection
 * exists from the start, so the server can count it against its cap (as on TCP) and refuse it
 * before any TLS or HTTP work: a stalled TLS handshake or upgrade holds a slot, and is closed
 * when `upgradeTimeoutMs` is up (the TLS server's handshakeTimeout, `tls.handshakeTimeoutMs`,
 * bounds the TLS part on its own). Nothing is delivered before the upgrade.
 */
export class AcceptedSocket {
  readonly conn: MessageConn;
  private readonly attach: (ws: WebSocket, socket: Duplex) => void;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The socket to close: the accepted one, or the TLSSocket over it once its handshake is done. */
  private outer: Duplex;
  /** Why it is closing before its upgrade (a refused TLS handshake), reported once the socket is gone. */
  private failure: Error | undefined;

  constructor(
    private readonly raw: net.Socket,
    remote: string,
    spec: FrameSpec,
    private readonly options: ResolvedOptions,
    /** Its listener's budget of messages still arriving. */
    pending: PendingMessages,
  ) {
    this.outer = raw;
    // Before the upgrade no close frame can be sent: closing it closes the socket.
    const early = upgradingWsConn(remote, spec, options, () => this.outer.destroy(), pending);
    this.conn = early.conn;
    this.attach = early.attach;
    // A reset before the HTTP server has added its own handler must not become an uncaught 'error'.
    raw.on('error', ignore);
    raw.once('close', this.closedEarly);
  }

  /** The server took it: the upgrade clock starts, for `ms` (less than upgradeTimeoutMs when part of it went before). */
  startClock(ms = this.options.upgradeTimeoutMs): void {
    this.timer = setTimeout(this.timedOut, ms);
    this.timer.unref();
  }

  /**
   * Its TLS handshake is done: closing it now closes the TLSSocket, which closes the one beneath
   * (closing that one under a live TLSSocket would leave the TLSSocket a closed handle).
   */
  secured(tls: Duplex): void {
    this.outer = tls;
    // Refused until the handshake (ws-server.ts, onAccepted): what the connection allowed before.
    (tls as net.Socket).allowHalfOpen = true;
  }

  /** Upgraded: `ws` reads `socket` (the TLSSocket on wss) from now on. */
  upgraded(ws: WebSocket, socket: Duplex): void {
    this.settle();
    this.attach(ws, socket);
  }

  /**
   * It is being closed because of `err` (a failed TLS handshake, a refused certificate, an
   * upgrade request the HTTP parser refused): what the connection reports once the socket is
   * gone. Only noted here: the server closes its own socket, and closing the one beneath from
   * inside its callbacks would pull the handle out from under it.
   */
  refused(err: Error): void {
    this.failure ??= err;
  }

  private settle(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.raw.off('close', this.closedEarly);
  }

  /** Gone before its upgrade: the peer left, was answered with an HTTP status (401, 404), or TLS refused it. */
  private readonly closedEarly = (): void => {
    this.settle();
    if (this.failure) this.conn.abort(this.failure);
    else this.conn.ended(CloseCode.Normal, '');
  };

  private readonly timedOut = (): void => {
    this.conn.abort(new RpcError(ErrorCode.Timeout, `WebSocket upgrade not done within ${this.options.upgradeTimeoutMs} ms`));
  };
}

const ignore = (): void => {};
