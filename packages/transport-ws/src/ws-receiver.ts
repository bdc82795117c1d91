import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { CountedArrival } from './counted-arrival.js';
import type { MessageArrival } from './message-arrival.js';

/**
 * How to tell what `ws` holds of a message under way: its Receiver's own fields (the npm
 * package, on Node and Deno), or, for a ws that has none (Bun's own, which Bun puts in the
 * package's place), a count of the data frames' bytes `wire` delivered since a message's final frame.
 */
export function arrivalOf(ws: WebSocket, wire: Duplex): MessageArrival {
  if (receiverOf(ws) === undefined) return new CountedArrival(wire);
  return {
    midMessage: () => midMessage(ws),
    messageBytes: () => messageBytes(ws),
    heldBytes: () => heldBytes(ws),
    betweenFragments: () => betweenFragments(ws),
  };
}

/** The fields of ws's Receiver that say whether it holds part of a message (ws has no public way to ask). */
interface ReceiverState {
  /** 0 while waiting for a frame's first byte; reading a header, mask or payload otherwise. */
  _state?: number;
  /** Received bytes not yet made into a frame. */
  _bufferedBytes?: number;
  /** Non-zero between the fragments of a message. */
  _fragmented?: number;
  /** The opcode of the frame being read. */
  _opcode?: number;
  /** The payload length of the frame being read, once its header is. */
  _payloadLength?: number;
  /** The message's data frames' payload lengths, each added once its header is read. */
  _totalPayloadLength?: number;
  /** The peer broke the protocol (a claim over maxPayload, say): ws reads no more and is closing. */
  _errored?: boolean;
}

/**
 * Whether ws holds part of a message: read from its Receiver's own fields, since a peer that
 * dribbles a message would otherwise escape the server's read timeout (a WebSocket message is
 * not seen until it is whole). A ws without these fields reads as never mid-message, as before.
 */
export function midMessage(ws: WebSocket): boolean {
  const r = receiverOf(ws);
  return r !== undefined && ((r._state ?? 0) !== 0 || (r._bufferedBytes ?? 0) > 0 || (r._fragmented ?? 0) !== 0);
}

/** ws Receiver's states (lib/receiver.js) once a frame's length is read: reading its mask, then its payload. */
const GET_MASK = 3;
const GET_DATA = 4;

/**
 * The payload bytes of the message under way that ws has received: its whole fragments' and the
 * part of the frame being read, never a control frame's (ws counts a data frame's claimed length
 * in `_totalPayloadLength` once its header is read, and buffers its payload until it is whole).
 */
export function messageBytes(ws: WebSocket): number {
  const r = receiverOf(ws);
  if (r === undefined) return 0;
  const total = r._totalPayloadLength ?? 0;
  const state = r._state ?? 0;
  if ((r._opcode ?? 0) > 0x07 || (state !== GET_MASK && state !== GET_DATA)) return total;
  return total - (r._payloadLength ?? 0) + (state === GET_DATA ? (r._bufferedBytes ?? 0) : 0);
}

/**
 * What ws holds of the message under way: its whole fragments, and every received byte it has
 * not yet made into a frame (the frame being read, and what follows it). The frame being read
 * is in `_totalPayloadLength` by its claimed length from its header on, not by what arrived: left out until ws takes it.
 */
export function heldBytes(ws: WebSocket): number {
  const r = receiverOf(ws);
  // Errored, ws has counted the claim that broke the protocol and goes no further: it holds nothing more to charge.
  if (r === undefined || r._errored === true) return 0;
  const state = r._state ?? 0;
  const reading = (r._opcode ?? 0) <= 0x07 && (state === GET_MASK || state === GET_DATA) ? (r._payloadLength ?? 0) : 0;
  return (r._totalPayloadLength ?? 0) - reading + (r._bufferedBytes ?? 0);
}

/** Whether ws has some fragments of a message and waits for the rest. */
export function betweenFragments(ws: WebSocket): boolean {
  return (receiverOf(ws)?._fragmented ?? 0) !== 0;
}

function receiverOf(ws: WebSocket): ReceiverState | undefined {
  return (ws as unknown as { _receiver?: ReceiverState | null })._receiver ?? undefined;
}
