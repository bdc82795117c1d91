import type { Duplex } from 'node:stream';
import { plainBytes, type FrameSpec } from '@skein/core';
import type { RawData, WebSocket } from 'ws';
import { ChunkGuard } from './chunk-guard.js';
import { CloseCode } from './close-codes.js';
import { lingerThen } from './close-linger.js';
import { MessageConn, type MessageConnOptions, type MessageSocket } from './message-conn.js';
import { TlsReadStop } from './tls-read-stop.js';

/**
 * What ws may hold for a peer besides the bytes of its message (maxPayload):
 * - maxFragments: each fragment is a Buffer of its own (about 130 B of heap), so a peer sending
 *   one-byte fragments holds ~2 MiB at most. Skein's own senders stay far under it (messages are
 *   cut at batchBytes). Read chunks: chunk-guard.ts.
 * - maxPendingAutoPongs: the answers to its pings not yet written; past them the peer is dropped.
 *   Before ws 8.23 every ping was answered however many waited, so a peer that pinged and never
 *   read grew the send buffer without bound (hence the package's `ws` range).
 * ws's own defaults (8.21, 8.23), given here so that no other default applies.
 */
export const WS_RECEIVE_LIMITS = Object.freeze({ maxFragments: 16 * 1024, maxPendingAutoPongs: 60 });

/** ws copies its send options, so the two kinds of fragment share constant ones (send runs per fragment). */
const MORE = Object.freeze({ binary: true, compress: false, fin: false });
const LAST = Object.freeze({ binary: true, compress: false, fin: true });

/**
 * A MessageConn over a `ws` WebSocket (client or server side).
 *
 * Sending: a message of several chunks goes out as fragments of one message (`send` with
 * `fin: false`), so long parts are never concatenated. On the server side ws writes each
 * fragment's header and the caller's bytes to the socket without copying; on the client side
 * RFC 6455 requires masking, and ws masks into a fresh buffer (one copy: it never masks a
 * Buffer we pass in place, since it marks our data read-only).
 *
 * Receiving: ws hands each message as its own Buffer (a view into a socket read that Node
 * never reuses, or a fresh buffer when the message spanned reads or fragments), so frame views
 * into it stay valid.
 *
 * Drain: ws has no public drain event; the send callback fires when a message has been written
 * to the kernel, which is when `bufferedAmount` can have dropped.
 */
export function wsMessageConn(ws: WebSocket, socket: Duplex, remote: string, spec: FrameSpec, options: MessageConnOptions): MessageConn {
  const early = upgradingWsConn(remote, spec, options, () => ws.terminate());
  early.attach(ws, socket);
  return early.conn;
}

/** A MessageConn whose WebSocket comes later: the server hands it over at accept, before the upgrade. */
export interface UpgradingWsConn {
  readonly conn: MessageConn;
  /** The upgrade is done: `ws`, over `socket`, carries the connection from now on (what was written before goes first). */
  attach(ws: WebSocket, socket: Duplex): void;
}

/**
 * The MessageConn is made before its WebSocket: until `attach`, what is written waits here
 * (sent once upgraded, in order), a pause is remembered, and a close or terminate calls `drop`
 * (which closes the socket beneath: no close frame can be sent yet). Nothing is received
 * before `attach`, so nothing is delivered.
 */
export function upgradingWsConn(remote: string, spec: FrameSpec, options: MessageConnOptions, drop: () => void): UpgradingWsConn {
  let ws: WebSocket | undefined;
  /** Where pausing ws leaves the reads beneath it going (Deno's node:tls), what stops them too. */
  let beneath: TlsReadStop | undefined;
  let dropped = false;
  /** Messages written before the upgrade, and their bytes. */
  let early: Uint8Array[][] | undefined;
  let earlyBytes = 0;
  let pausedEarly = false;
  const dropEarly = (): void => {
    dropped = true;
    early = undefined;
    drop();
  };
  const onSent = (): void => void conn.written();
  const socket: MessageSocket = {
    get bufferedAmount() {
      return ws === undefined ? earlyBytes : ws.bufferedAmount;
    },
    send(chunks) {
      if (ws === undefined) return hold(chunks);
      const last = chunks.length - 1;
      for (let i = 0; i < last; i++) ws.send(chunks[i]!, MORE);
      ws.send(chunks[last]!, LAST, onSent);
    },
    // Public since ws 8: stops reading the socket, so the kernel buffer fills and the peer slows.
    pausesReading: true,
    pause: () => (ws === undefined ? void (pausedEarly = true) : pauseWs(ws)),
    resume: () => {
      if (ws === undefined) return void (pausedEarly = false);
      ws.resume();
      // As ws resumes no socket it has closed, so are a closed socket's reads never restarted.
      if (!ws.isPaused) beneath?.start();
    },
    close: (code, reason, givingUp) => {
      if (ws === undefined) return dropEarly();
      ws.close(code, reason);
      if (givingUp) dropAfterLinger(ws, options.lingerMs);
    },
    terminate: () => (ws === undefined ? dropEarly() : ws.terminate()),
    watchDrain: () => {},
    get midMessage() {
      if (ws === undefined || !midMessage(ws)) {
        // The next message's count starts afresh: one that reaches this one's is no stall.
        readAtLastLook = -1;
        return false;
      }
      // Stalled, not merely unfinished: a WebSocket message holds many whole frames (a batch of
      // up to batchBytes), which the server's read timeout, meant for one frame, must not time
      // on a slow link. Bytes of the message since the last look are progress (the server looks
      // once a tick, and its clock starts again); a dribbler that makes it is ChunkGuard's. Control
      // frames are not: a peer pinging with its message half sent is stalled all the same.
      const read = messageBytes(ws);
      const stalled = read === readAtLastLook;
      readAtLastLook = read;
      return stalled;
    },
  };
  const hold = (chunks: Uint8Array[]): void => {
    if (dropped) return;
    // The batcher may reuse its array; the bytes are the connection's to send.
    (early ??= []).push(chunks.slice());
    for (const c of chunks) earlyBytes += c.length;
  };
  const pauseWs = (w: WebSocket): void => {
    w.pause();
    // ws pauses no socket it has closed (nor one still connecting): neither has reads to stop.
    if (w.isPaused) beneath?.stop();
  };
  const conn = new MessageConn(remote, spec, socket, options);
  /** The message's bytes ws held at the server's last look at `midMessage`; -1 when not mid-message then. */
  let readAtLastLook = -1;
  const attach = (w: WebSocket, wire: Duplex): void => {
    if (dropped) return void w.terminate();
    let error: Error | undefined;
    const guard = new ChunkGuard(wire, conn);
    // One listener per event: EventEmitter copies its list on each emit of an event with several.
    w.on('message', (data, isBinary) => (guard.reset(), conn.receive(bytesOf(data), isBinary)));
    // A control frame between the fragments of a message ends nothing ws holds of the message.
    const control = (): void => void (betweenFragments(w) || guard.reset());
    w.on('ping', control);
    w.on('pong', control);
    w.on('error', (err) => {
      error ??= err;
      // The peer broke the protocol (a message over maxPayload, too many fragments): ws has sent
      // its close frame and reads no more. The failure is the connection's now, and the peer has
      // `lingerMs` to answer, not ws's 30 s, holding the message it broke off all along.
      conn.ended(closeCodeOf(err, CloseCode.Abnormal), '', err);
      dropAfterLinger(w, options.lingerMs);
    });
    w.on('close', (code, reason) => conn.ended(error ? closeCodeOf(error, code) : code, reason.toString(), error));
    ws = w;
    beneath = TlsReadStop.of(wire);
    // What the server kept to close it before its upgrade is not needed any more: let it go.
    drop = NOTHING;
    if (pausedEarly) pauseWs(w);
    const waiting = early;
    early = undefined;
    earlyBytes = 0;
    if (waiting) for (const m of waiting) socket.send(m);
  };
  return { conn, attach };
}

const NOTHING = (): void => {};

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
}

/**
 * Whether ws holds part of a message: read from its Receiver's own fields, since a peer that
 * dribbles a message would otherwise escape the server's read timeout (a WebSocket message is
 * not seen until it is whole). A ws without these fields reads as never mid-message, as before.
 */
function midMessage(ws: WebSocket): boolean {
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
function messageBytes(ws: WebSocket): number {
  const r = receiverOf(ws);
  if (r === undefined) return 0;
  const total = r._totalPayloadLength ?? 0;
  const state = r._state ?? 0;
  if ((r._opcode ?? 0) > 0x07 || (state !== GET_MASK && state !== GET_DATA)) return total;
  return total - (r._payloadLength ?? 0) + (state === GET_DATA ? (r._bufferedBytes ?? 0) : 0);
}

/** Whether ws has some fragments of a message and waits for the rest. */
function betweenFragments(ws: WebSocket): boolean {
  return (receiverOf(ws)?._fragmented ?? 0) !== 0;
}

function receiverOf(ws: WebSocket): ReceiverState | undefined {
  return (ws as unknown as { _receiver?: ReceiverState | null })._receiver ?? undefined;
}

/** Drops `ws` unless its closing handshake is done within `lingerMs`. */
function dropAfterLinger(ws: WebSocket, lingerMs: number): void {
  ws.once('close', lingerThen(lingerMs, () => ws.terminate()));
}

/**
 * A message as a plain Uint8Array view of ws's buffer: what handlers take out of it must not be
 * Buffers, whose `slice` shares memory.
 */
function bytesOf(data: RawData): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return plainBytes(Array.isArray(data) ? Buffer.concat(data) : data);
}

/** ws reports a protocol violation by the peer as an error with a `WS_ERR_*` code before closing. */
function closeCodeOf(err: Error, code: number): number {
  const wsCode = (err as { code?: unknown }).code;
  if (wsCode === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' || wsCode === 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH') return CloseCode.TooBig;
  if (wsCode === 'WS_ERR_TOO_MANY_BUFFERED_PARTS') return CloseCode.PolicyViolation;
  if (wsCode === 'WS_ERR_INVALID_UTF8') return CloseCode.BadFrame;
  // Any other WS_ERR_ is a malformed WebSocket frame; an error without one, a failed write.
  return typeof wsCode === 'string' && wsCode.startsWith('WS_ERR_') ? CloseCode.ProtocolError : code;
}
