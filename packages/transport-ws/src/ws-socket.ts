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
  const onSent = (): void => void conn.written();
  const socket: MessageSocket = {
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send(chunks) {
      const last = chunks.length - 1;
      for (let i = 0; i < last; i++) ws.send(chunks[i]!, MORE);
      ws.send(chunks[last]!, LAST, onSent);
    },
    // Public since ws 8: stops reading the socket, so the kernel buffer fills and the peer slows.
    pausesReading: true,
    pause: () => ws.pause(),
    resume: () => ws.resume(),
    close: (code, reason) => ws.close(code, reason),
    terminate: () => ws.terminate(),
    watchDrain: () => {},
  };
  const conn = new MessageConn(remote, spec, socket, options);
  let error: Error | undefined;
  ws.on('message', (data, isBinary) => conn.receive(bytesOf(data), isBinary));
  ws.on('error', (err) => (error ??= err));
  ws.on('close', (code, reason) => conn.ended(error ? closeCodeOf(error, code) : code, reason.toString(), error));
  return conn;
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
  if (wsCode === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return CloseCode.TooBig;
  return code;
}
