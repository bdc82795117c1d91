import { plainBytes, type FrameSpec } from '@skein/core';
import type { RawData, WebSocket } from 'ws';
import { CloseCode } from './close-codes.js';
import { MessageConn, type MessageConnOptions, type MessageSocket } from './message-conn.js';

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
export function wsMessageConn(ws: WebSocket, remote: string, spec: FrameSpec, options: MessageConnOptions): MessageConn {
  const early = upgradingWsConn(remote, spec, options, () => ws.terminate());
  early.attach(ws);
  return early.conn;
}

/** A MessageConn whose WebSocket comes later: the server hands it over at accept, before the upgrade. */
export interface UpgradingWsConn {
  readonly conn: MessageConn;
  /** The upgrade is done: `ws` carries the connection from now on (what was written before goes first). */
  attach(ws: WebSocket): void;
}

/**
 * The MessageConn is made before its WebSocket: until `attach`, what is written waits here
 * (sent once upgraded, in order), a pause is remembered, and a close or terminate calls `drop`
 * (which closes the socket beneath: no close frame can be sent yet). Nothing is received
 * before `attach`, so nothing is delivered.
 */
export function upgradingWsConn(remote: string, spec: FrameSpec, options: MessageConnOptions, drop: () => void): UpgradingWsConn {
  let ws: WebSocket | undefined;
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
    pause: () => (ws === undefined ? void (pausedEarly = true) : ws.pause()),
    resume: () => (ws === undefined ? void (pausedEarly = false) : ws.resume()),
    close: (code, reason) => (ws === undefined ? dropEarly() : ws.close(code, reason)),
    terminate: () => (ws === undefined ? dropEarly() : ws.terminate()),
    watchDrain: () => {},
  };
  const hold = (chunks: Uint8Array[]): void => {
    if (dropped) return;
    // The batcher may reuse its array; the bytes are the connection's to send.
    (early ??= []).push(chunks.slice());
    for (const c of chunks) earlyBytes += c.length;
  };
  const conn = new MessageConn(remote, spec, socket, options);
  const attach = (w: WebSocket): void => {
    if (dropped) return void w.terminate();
    let error: Error | undefined;
    w.on('message', (data, isBinary) => conn.receive(bytesOf(data), isBinary));
    w.on('error', (err) => (error ??= err));
    w.on('close', (code, reason) => conn.ended(error ? closeCodeOf(error, code) : code, reason.toString(), error));
    ws = w;
    // What the server kept to close it before its upgrade is not needed any more: let it go.
    drop = NOTHING;
    if (pausedEarly) w.pause();
    const waiting = early;
    early = undefined;
    earlyBytes = 0;
    if (waiting) for (const m of waiting) socket.send(m);
  };
  return { conn, attach };
}

const NOTHING = (): void => {};

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
  if (wsCode === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return CloseCode.TooBig;
  return code;
}
