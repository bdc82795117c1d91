import type { FrameConn, Logger } from '@skein/core';
import type { ReplyLimits } from '../wire/limits.js';
import type { ReverseHost } from './reverse-caller.js';

/** What a connection's reverse calls need of their ServerConn. */
export interface ReverseLink {
  readonly conn: FrameConn;
  /** What the client takes in a reply (its hello's limits). */
  readonly peerLimits: ReplyLimits;
  readonly logger: Logger;
  /** The connection is closed: nothing more is written. */
  readonly closed: boolean;
  /** A reverse call went out: the connection is in use, and reading may go on. */
  reverseAwaiting(): void;
  /** Nothing is left to wait for: a closing connection may end now. */
  endIfDone(): void;
}

/**
 * The ReverseCaller's view of the connection it calls through (ReverseHost), made once, when the
 * hello agrees calls both ways. Out of ServerConn because no request's path comes here: only the
 * server's own calls to the other side write and wait through it.
 */
export class ConnReverseHost implements ReverseHost {
  constructor(private readonly link: ReverseLink) {}

  // The link is the ServerConn itself, the owner its requests name (ServerRequest.unansweredOn).
  get owner(): object {
    return this.link;
  }

  // Read when a message needs it: an idle connection never builds the peer's name.
  get remote(): string {
    return this.link.conn.remote;
  }

  get limits(): ReplyLimits {
    return this.link.peerLimits;
  }

  get congested(): boolean {
    return this.link.conn.congested;
  }

  get logger(): Logger {
    return this.link.logger;
  }

  write(part: Uint8Array): void {
    if (!this.link.closed) this.link.conn.write(part);
  }

  // A reverse call out is the connection in use, as a call in is: a client behind NAT that
  // only takes the server's pushes is not idle (idleTimeoutMs), however short each push.
  awaiting(): void {
    this.link.reverseAwaiting();
  }

  idle(): void {
    this.link.endIfDone();
  }

  drop(why: Error): void {
    this.link.logger.warn({ remote: this.link.conn.remote, reason: why.message }, 'closing connection: the peer answers no reverse call');
    this.link.conn.close();
  }
}
