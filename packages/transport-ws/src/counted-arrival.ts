import type { Duplex } from 'node:stream';
import type { MessageArrival } from './message-arrival.js';

/** The longest frame header (RFC 6455 5.2): two bytes, eight of extended length, four of mask. */
const MAX_HEADER = 14;

/**
 * What a message still arriving holds, for a `ws` without the npm package's Receiver: Bun's own
 * `ws`, which Bun puts in the package's place. It shows nothing of a message before it is whole,
 * so this reads the frame headers in what the socket beneath delivers and counts the data
 * frames' bytes since the last message's final frame: an upper bound of what that `ws` holds of
 * the next one. Read as "nothing" instead, any number of peers each held up to
 * maxWsMessageBytes of a message they never finished (the listener's maxPendingMessageBytes
 * never charged them), and a peer stalled mid-message was never midFrame. The frames are read
 * here rather than the count reset at ws's `message` event: a read that ends one message and
 * begins the next would leave that beginning uncounted, and a peer that stalled there was
 * never midFrame. A control frame's bytes are not a message's, so a ping leaves nothing under way.
 */
export class CountedArrival implements MessageArrival {
  /** The data frames' bytes (headers and payloads) of the message under way, so far. */
  private held = 0;
  /** The header of the frame being read, as far as it has arrived. */
  private readonly head = new Uint8Array(MAX_HEADER);
  private headRead = 0;
  /** Payload bytes of the frame being read still to come (0: a header is next). */
  private left = 0;
  private control = false;
  private final = false;

  /** Reads what `wire` delivers to `ws`. */
  constructor(wire: Duplex) {
    wire.prependListener('data', this.read);
  }

  midMessage(): boolean {
    return this.held > 0 || this.headRead > 0 || this.left > 0;
  }

  messageBytes(): number {
    return this.held;
  }

  heldBytes(): number {
    return this.held + this.headRead;
  }

  betweenFragments(): boolean {
    return this.held > 0;
  }

  private readonly read = (chunk: Uint8Array): void => {
    let i = 0;
    while (i < chunk.length) {
      if (this.left > 0) {
        const take = Math.min(this.left, chunk.length - i);
        if (!this.control) this.held += take;
        this.left -= take;
        i += take;
        if (this.left === 0) this.frameRead();
        continue;
      }
      this.head[this.headRead++] = chunk[i++]!;
      const size = headerSize(this.head, this.headRead);
      if (size === undefined || this.headRead < size) continue;
      this.headRead = 0;
      this.control = (this.head[0]! & 0x08) !== 0;
      this.final = (this.head[0]! & 0x80) !== 0;
      if (!this.control) this.held += size;
      this.left = payloadLength(this.head);
      if (this.left === 0) this.frameRead();
    }
  };

  /** A frame is read whole: a message's final data frame ends what is held. */
  private frameRead(): void {
    if (this.final && !this.control) this.held = 0;
  }
}

/** A frame header's size, once its first two bytes are there. */
function headerSize(head: Uint8Array, read: number): number | undefined {
  if (read < 2) return undefined;
  const length = head[1]! & 0x7f;
  return 2 + (length === 126 ? 2 : length === 127 ? 8 : 0) + ((head[1]! & 0x80) !== 0 ? 4 : 0);
}

/** The payload length a whole header gives. */
function payloadLength(head: Uint8Array): number {
  const length = head[1]! & 0x7f;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (length === 126) return view.getUint16(2);
  if (length === 127) return view.getUint32(2) * 2 ** 32 + view.getUint32(6);
  return length;
}
