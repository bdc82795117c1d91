import { EMPTY_BYTES, ErrorCode, RpcError, type FrameSpec } from '@skein/core';
import { CloseCode, STANDARD_API_OFFSET } from './close-codes.js';
import { lingerThen } from './close-linger.js';
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
  /** Bun's own addition (1.4): drops the connection without a closing handshake. Browsers and Deno have none. */
  terminate?(): unknown;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'error', listener: (ev: unknown) => void): void;
  addEventListener(type: 'close', listener: (ev: { code: number; reason: string }) => void): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
}

/**
 * A standard WebSocket constructor as every runtime types its own (the DOM, Deno, Bun, Node's
 * global): called with the URL alone. Their second parameters differ (protocols; Deno's and
 * Node's options; Bun's `{ tls }`), so naming one refused the others' constructors.
 */
export type StandardWebSocketCtor = new (url: string) => StandardWebSocket;

/** Bun's constructor, whose second argument takes TLS options: passed only under Bun. */
export type BunWebSocketCtor = new (url: string, options: { tls: Record<string, unknown> }) => StandardWebSocket;

/** How often a congested connection re-reads `bufferedAmount`: the standard API has no drain event. */
const DRAIN_POLL_MS = 10;

/**
 * A MessageConn over the standard WebSocket API. Limits of that API, all handled here:
 * - no fragments: a message of several chunks is concatenated into one buffer (one copy);
 * - no drain event: `bufferedAmount` is polled while the conn waits for a drain;
 * - no read pause (except Bun's own `pause()`, used where present): frames are held by the conn
 *   while paused, up to `maxHeldBytes`, while the socket keeps reading;
 * - only 1000 and 3000-4999 may be sent: our 10xx codes travel as 40xx;
 * - no way to drop a connection (except Bun's own `terminate()`, used where present): a peer
 *   given up on that never answers the close frame holds it as long as the runtime waits;
 * - no size limit on what is received: `maxWsMessageBytes` is checked here, once a message has
 *   arrived whole (so it bounds what is delivered, not what the runtime buffers first).
 */
export function standardMessageConn(
  ws: StandardWebSocket,
  remote: string,
  spec: FrameSpec,
  options: MessageConnOptions,
): MessageConn {
  let polling = false;
  const watchDrain = (): void => {
    if (polling) return;
    polling = true;
    setTimeout(poll, DRAIN_POLL_MS);
  };
  const poll = (): void => {
    // Cleared first: the drain handler `written` runs may write until congested again, and its
    // watchDrain must start the next poll (it found `polling` set, and that drain was lost).
    polling = false;
    if (conn.written()) watchDrain();
  };
  /** Undoes the linger once the close is done (set while this side waits on a peer it gave up on). */
  let stopLinger: (() => void) | undefined;
  /** Without a handshake where the API can (Bun); elsewhere the close frame is all there is. */
  const terminate = (): void => void (ws.terminate ? ws.terminate() : ws.close());
  const socket: MessageSocket = {
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send: (chunks) => ws.send(chunks.length === 1 ? chunks[0]! : concat(chunks)),
    pausesReading: typeof ws.pause === 'function' && typeof ws.resume === 'function',
    pause: () => void ws.pause?.(),
    resume: () => void ws.resume?.(),
    close: (code, reason, givingUp) => {
      ws.close(code === CloseCode.Normal ? code : code + STANDARD_API_OFFSET, reason);
      // A peer given up on that never answers the close frame held the connection some 36 s on
      // Bun: dropped after `lingerMs`, as the ws adapter does (Deno's WebSocket cannot drop
      // one, which is why Deno's default client is ws: ws-client.ts).
      if (givingUp && ws.terminate) stopLinger ??= lingerThen(options.lingerMs, terminate);
    },
    terminate,
    watchDrain,
  };
  const conn = new MessageConn(remote, spec, socket, options);
  const max = options.maxWsMessageBytes;
  ws.addEventListener('message', (ev) => {
    const binary = typeof ev.data !== 'string';
    const data = binary ? new Uint8Array(ev.data as ArrayBuffer) : EMPTY_BYTES;
    if (data.length > max) return conn.fail(tooBig(data.length, max));
    conn.receive(data, binary);
  });
  ws.addEventListener('close', (ev) => {
    stopLinger?.();
    conn.ended(ev.code, ev.reason);
  });
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
