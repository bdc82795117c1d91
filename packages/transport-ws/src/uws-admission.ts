import type { Logger } from '@skein/core';
import { PendingMessages } from './pending-messages.js';

/**
 * `maxPendingMessageBytes` on uWebSockets.js. uWS collects a message that arrives in pieces (more
 * than one read, or fragments) in a buffer of the connection's own, allocated at the size its
 * first frame claims and filled as bytes arrive, up to `maxPayloadLength`; it shows JS neither
 * that buffer nor a count of its bytes (a message reaches `message` only whole), and keeps the
 * buffer, emptied, until the connection closes. So the most a listener's connections may hold of
 * their messages is bounded only by how many are open: each reserves `maxWsMessageBytes` of the
 * budget from its upgrade to its close, and an upgrade that would take the budget over is
 * answered 503 before uWS makes a connection of it.
 */
export class UwsAdmission {
  private readonly pending: PendingMessages;
  /** Refusing since the last admission: only the first refusal of a run is logged (a flood of upgrades must not flood the log). */
  private refusing = false;

  constructor(
    budget: number,
    /** What one connection may hold: maxWsMessageBytes (uWS's maxPayloadLength). */
    private readonly perConnection: number,
    private readonly logger: Logger,
  ) {
    this.pending = new PendingMessages(budget);
  }

  /** Reserves one connection's share; false, reserving nothing, when the budget has no room for it. */
  admit(remote: string): boolean {
    if (this.pending.reserve(this.perConnection)) {
      this.refusing = false;
      return true;
    }
    if (!this.refusing) {
      this.refusing = true;
      const fields = { remote, maxPendingMessageBytes: this.pending.max, maxWsMessageBytes: this.perConnection, reserved: this.pending.inUse };
      this.logger.warn(fields, 'uWebSockets.js listener at its maxPendingMessageBytes budget (maxWsMessageBytes reserved per open connection): answering upgrades 503 until a connection closes');
    }
    return false;
  }

  /** Gives back an admitted connection's share, once it is closed. */
  release(): void {
    this.pending.recharge(this.perConnection, 0);
  }
}
