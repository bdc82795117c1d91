/**
 * What a stream scenario asks a fault server's stream handlers to do, as JSON in the stream's
 * opening message: the runner (streams.ts), the back's handlers and the front's relay share it.
 */
export interface StreamOrder {
  /** The stream's id, logged by every server that runs its handler (execution-log.ts). */
  readonly id: number;
  /**
   * `feed`: the server writes `items` items; `sink`: it reads the client's items until the end,
   * answering their count; `bidi`: it writes each item it reads back.
   */
  readonly kind: StreamKind;
  /** Items a feed writes (unbounded: Infinity is sent as 0). */
  readonly items: number;
  /** Blob bytes of each item a feed writes. */
  readonly size: number;
  /** A pause before each item a feed writes or a sink reads: long enough to kill mid-stream. */
  readonly paceMs: number;
  readonly idempotent: boolean;
}

export type StreamKind = 'feed' | 'sink' | 'bidi';

const utf8 = new TextEncoder();
const text = new TextDecoder();

export const encodeOrder = (o: StreamOrder): Uint8Array => utf8.encode(JSON.stringify(o));
export const decodeOrder = (msg: Uint8Array): StreamOrder => JSON.parse(text.decode(msg)) as StreamOrder;

/** Item `i`'s message: its index, so that a reader tells a gap or a repeat from the order. */
export const itemMsg = (i: number): Uint8Array => utf8.encode(String(i));
export const itemIndex = (msg: Uint8Array): number => Number(text.decode(msg));
