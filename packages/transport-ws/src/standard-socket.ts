import { EMPTY_BYTES, ErrorCode, RpcError, type FrameSpec } from '@skein/core';
import { CloseCode, STANDARD_API_OFFSET } from './close-codes.js';
import { MessageConn, type MessageConnOptions, type MessageSocket } from './message-conn.js';

/** The parts of the standard WebSocket API (browsers, Bun, Deno, Node 22+) this transport uses. */
export interface StandardWebSocket {
  binaryType: string;
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** Bun's own addition (1.4): stops reading the socket, so the peer slows down. Browsers and Deno have none. */
  pause?(): unknown;
  resume?(): unknown;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'error', listener: (ev: unknown) => void): void;
  addEventListener(type: 'close', listener: (ev: { code: number; reason: string }) => void): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
}

/** The second argument is Bun's own (`{ tls }`); browsers and Deno take protocols there, which Skein never passes. */
export type StandardWebSocketCtor = new (url: string, options?: { tls: Record<string, unknown> }) => StandardWebSocket;

/** How often a congested connection re-reads `bufferedAmount`: the standard API has no drain event. */
const DRAIN_POLL_MS = 10;

/**
 * A MessageConn over the standard WebSocket API. Limits of that API, all handled here:
 * - no fragments: a message of several chunks is concatenated into one buffer (one copy);
 * - no drain event: `bufferedAmount` is polled while the conn waits for a drain;
 * - no read pause (except Bun's own `pause()`, used where present): frames are held by the conn
 *   while paused, up to `maxHeldBytes`, while the socket keeps reading;
 * - only 1000 and 3000-4999 may be sent: our 10xx codes travel as 40xx;
 * - no size limit on what is received: `maxWsMessageBytes` is checked here, once a message has
 *   arrived whole (so it bounds what is delivered, not what the runtime buffers first).
 */
export function standardMessageConn(
  ws: StandardWebSocket,
  remote: string,
  spec: FrameSpec,
  options: MessageConnOptions & { maxWsMessageBytes: number },
): MessageConn {
  let polling = false;
  const poll = (): void => {
    if (conn.written()) setTimeout(poll, DRAIN_POLL_MS);
    else polling = false;
  };
  const socket: MessageSocket = {
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send: (chunks) => ws.send(chunks.length === 1 ? chunks[0]! : concat(chunks)),
    pausesReading: typeof ws.pause === 'function' && typeof ws.resume === 'function',
    pause: () => void ws.pause?.(),
    resume: () => void ws.resume?.(),
    close: (code, reason) => ws.close(code === CloseCode.Normal ? code : code + STANDARD_API_OFFSET, reason),
    terminate: () => ws.close(),
    watchDrain: () => {
      if (polling) return;
      polling = true;
      setTimeout(poll, DRAIN_POLL_MS);
    },
  };
  const conn = new MessageConn(remote, spec, socket, options);
  const max = options.maxWsMessageBytes;
  ws.addEventListener('message', (ev) => {
    const binary = typeof ev.data !== 'string';
    const data = binary ? new Uint8Array(ev.data as ArrayBuffer) : EMPTY_BYTES;
    if (data.length > max) return conn.fail(tooBig(data.length, max));
    conn.receive(data, binary);
  });
  ws.addEventListener('close', (ev) => conn.ended(ev.code, ev.reason));
  return conn;
}

/** What ws and uWS do on their own: the same limit, the same error (closed with 1009, sent as 4009). */
function tooBig(length: number, max: number): RpcError {
  return new RpcError(ErrorCode.FrameTooLarge, `a WebSocket message of ${length} bytes is over maxWsMessageBytes (${max})`);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
