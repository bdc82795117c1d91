import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { MessageArrival } from './message-arrival.js';

/** A control frame's header: two bytes, and the mask a client's frames carry (a control frame's payload is at most 125 bytes). */
const CONTROL_HEADER = 2;
const MASK = 4;

/**
 * What a message still arriving holds, for a `ws` without the npm package's Receiver: Bun's own
 * `ws`, which Bun puts in the package's place. It shows nothing of a message before it is whole,
 * so this counts what the socket beneath has read since the last whole message: an upper bound
 * of what that `ws` holds of the next one. Read as "nothing" instead, any number of peers each
 * held up to maxWsMessageBytes of a message they never finished (the listener's
 * maxPendingMessageBytes never charged them), and a peer stalled mid-message was never midFrame.
 * A control frame's bytes are taken back as it arrives (its header is fixed), so a ping leaves
 * nothing under way.
 */
export class CountedArrival implements MessageArrival {
  private bytes = 0;
  private readonly controlHeader: number;

  /** Counts what `wire` delivers to `ws`; its listener goes before ws's own, so a read is counted before ws makes a message of it. */
  constructor(ws: WebSocket, wire: Duplex) {
    // A server reads its clients' frames, which are masked.
    this.controlHeader = CONTROL_HEADER + ((ws as { _isServer?: boolean })._isServer === false ? 0 : MASK);
    wire.prependListener('data', this.read);
    ws.on('message', this.whole);
    ws.on('ping', this.control);
    ws.on('pong', this.control);
  }

  midMessage(): boolean {
    return this.bytes > 0;
  }

  messageBytes(): number {
    return this.bytes;
  }

  heldBytes(): number {
    return this.bytes;
  }

  betweenFragments(): boolean {
    return this.bytes > 0;
  }

  private readonly read = (chunk: Uint8Array): void => {
    this.bytes += chunk.length;
  };

  /** A message is whole: what arrived of it is ws's no more (a read that began the next one is counted again from its next read). */
  private readonly whole = (): void => {
    this.bytes = 0;
  };

  private readonly control = (payload: Uint8Array): void => {
    this.bytes = Math.max(0, this.bytes - this.controlHeader - payload.length);
  };
}
