import { FrameError, type FrameConn, type FrameListener, type FrameSpec, type Transport } from '@skein/core';
import { createHash } from 'node:crypto';
import { deferred, portOf, rawConnect, waitFor, type Deferred, type RawSocket } from '@skein/test-utils';
import { WebSocket, type ClientOptions } from 'ws';

export const BODY_LIMIT = 16 * 1024 * 1024;

/** The tests' FrameSpec: a 4-byte little-endian body length, at most BODY_LIMIT. */
export const spec: FrameSpec = {
  headerLength: 4,
  bodyLength(bytes, at) {
    const n = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true);
    if (n > BODY_LIMIT) throw new FrameError(`body of ${n} bytes is over ${BODY_LIMIT}`);
    return n;
  },
};

export function header(bodyLength: number): Uint8Array {
  const h = new Uint8Array(4);
  new DataView(h.buffer).setUint32(0, bodyLength, true);
  return h;
}

/** A message of `length` bytes that one test frame fills: its 4-byte length, then zeros. */
export function filledMessage(length: number): Uint8Array {
  const m = new Uint8Array(length);
  m.set(header(length - 4));
  return m;
}

/** One frame in one buffer. */
export function frame(body: Uint8Array | string): Uint8Array {
  const b = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const out = new Uint8Array(4 + b.length);
  out.set(header(b.length));
  out.set(b, 4);
  return out;
}

export const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Splits a received message into frame bodies, as a peer that knows the framing would. */
export function bodiesOf(message: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < message.length; ) {
    const n = spec.bodyLength(message, at);
    out.push(message.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

/** Everything a FrameConn reported, for assertions. */
export interface Recorder {
  conn: FrameConn;
  bodies: Uint8Array[];
  drains: number;
  ends: number;
  closed: Deferred<Error | undefined>;
  isClosed: boolean;
}

/** The body of the frame at `bytes[start, end)`, as a view. */
export const bodyAt = (bytes: Uint8Array, start: number, end: number): Uint8Array => bytes.subarray(start + 4, end);

/** A frame handler that is given each frame's body. */
export const onBody =
  <R>(f: (body: Uint8Array) => R) =>
  (bytes: Uint8Array, start: number, end: number): R =>
    f(bodyAt(bytes, start, end));

export function record(conn: FrameConn, extra: { frame?: (body: Uint8Array) => void; end?: () => void } = {}): Recorder {
  const closed = deferred<Error | undefined>();
  const r: Recorder = { conn, bodies: [], drains: 0, ends: 0, closed, isClosed: false };
  conn.bind({
    frame: onBody((body) => {
      r.bodies.push(body);
      extra.frame?.(body);
    }),
    drain: () => void r.drains++,
    ...(extra.end ? { end: () => (r.ends++, extra.end!()) } : {}),
    close: (err) => {
      r.isClosed = true;
      closed.resolve(err);
    },
  });
  return r;
}

/** A server on 127.0.0.1 that records every connection it accepts (echoing frames if asked). */
export async function startServer(
  transport: Transport,
  opts: { echo?: boolean } = {},
): Promise<{ listener: FrameListener; url: (path?: string) => string; accepted: Recorder[]; port: number }> {
  const accepted: Recorder[] = [];
  const listener = await transport.listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => {
    const r = record(conn, opts.echo ? { frame: (body) => conn.write(frame(body)) } : {});
    accepted.push(r);
  });
  const port = portOf(listener.address);
  return { listener, accepted, port, url: (path = '/skein') => `ws://127.0.0.1:${port}${path}` };
}

/** A plain `ws` client: a real peer that sees the WebSocket messages themselves. */
export async function rawClient(url: string, options: ClientOptions = {}): Promise<RawPeer> {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
  const peer: RawPeer = { ws, messages: [], closed: deferred() };
  ws.on('message', (data) => peer.messages.push(new Uint8Array(data as Buffer)));
  ws.on('close', (code, reason) => peer.closed.resolve({ code, reason: reason.toString() }));
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return peer;
}

export interface RawPeer {
  ws: WebSocket;
  messages: Uint8Array[];
  closed: Deferred<{ code: number; reason: string }>;
}

export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 64 KiB per call.
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, Math.min(n, at + 65536)));
  return out;
}

export const until = (cond: () => unknown, what: string): Promise<unknown> => waitFor(cond, { timeoutMs: 20_000, what });

/**
 * The header of one WebSocket frame as a hostile peer writes it by hand: `opcode` (2 binary,
 * 0 continuation), FIN or not, a payload length (64-bit form past 65535) and, from a client, an
 * all-zero mask, so the payload goes as it is.
 */
export function wsFrameHeader(opcode: number, fin: boolean, length: number, masked: boolean): Uint8Array {
  const size = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const h = new Uint8Array(size + (masked ? 4 : 0));
  h[0] = (fin ? 0x80 : 0) | opcode;
  const m = masked ? 0x80 : 0;
  const view = new DataView(h.buffer);
  if (size === 2) h[1] = m | length;
  else if (size === 4) (h[1] = m | 126), view.setUint16(2, length);
  else (h[1] = m | 127), view.setUint32(2, Math.floor(length / 2 ** 32)), view.setUint32(6, length >>> 0);
  return h;
}

/** A peer that did the WebSocket upgrade by hand on a raw socket and now speaks bytes. */
export async function rawWsPeer(port: number, path = '/skein'): Promise<RawSocket> {
  const raw = await rawConnect(`127.0.0.1:${port}`);
  raw.socket.setNoDelay(true);
  const key = Buffer.from(randomBytes(16)).toString('base64');
  raw.write(Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`));
  await until(() => raw.received().includes('\r\n\r\n') || raw.peerClosed, 'the upgrade answer');
  if (!raw.received().toString('latin1').startsWith('HTTP/1.1 101')) throw new Error(`not upgraded: ${raw.received().toString('latin1')}`);
  return raw;
}

/** What a server answers a WebSocket upgrade request with, as a hostile server writes it by hand. */
export function upgradeAnswer(request: string): string {
  const key = /sec-websocket-key: *(\S+)/i.exec(request)?.[1] ?? '';
  const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
}

/** Lets the event loop go round twice: on loopback, a byte written before it has been read by then. */
export const loopTurn = async (): Promise<void> => {
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
};

/** Writes to `socket` a byte a loop turn (so a byte a read, on loopback) until `stop()` or 5,000 bytes; returns how many it wrote. */
export async function dribble(socket: { write(b: Uint8Array): unknown }, stop: () => boolean): Promise<number> {
  let sent = 0;
  for (; !stop() && sent < 5_000; sent++) {
    socket.write(new Uint8Array(1));
    await loopTurn();
  }
  return sent;
}
