import net from 'node:net';
import tls from 'node:tls';
import { parseAddress } from '@skein/core';
import { protocol } from '@skein/stream';
import { WebSocket } from 'ws';
import { conformanceTls } from '../src/tls.mjs';

/** How a raw connection ended: everything it received, and the WebSocket close code (null for TCP). */
export interface RawEnding {
  bytes: Buffer;
  code: number | null;
}

/** A connection that speaks no Skein: it sends the bytes it is given and records what comes back. */
export interface RawPeer {
  send(bytes: Uint8Array): void;
  /** Everything received so far. */
  received(): Buffer;
  /** Closes this side (a TCP socket is destroyed: no end sent first). */
  close(): void;
  /** Settles when the server has closed the connection. */
  readonly ended: Promise<RawEnding>;
}

/**
 * A raw socket to a Skein server: a TCP or Unix socket (node:tls over TCP for a tls:// address,
 * trusting the suite's CA), or a `ws` client sending the bytes as one binary message, as the
 * WebSocket transports frame them.
 */
export function rawPeer(kind: 'tcp' | 'ws', address: string): Promise<RawPeer> {
  return kind === 'tcp' ? rawSocket(address) : rawWebSocket(address);
}

function rawSocket(address: string): Promise<RawPeer> {
  const a = parseAddress(address);
  // conformanceTls reads the CA as PEM text.
  const sock = 'path' in a ? net.connect(a.path) : a.tls ? tls.connect({ host: a.host, port: a.port, ca: conformanceTls('client').ca as string }) : net.connect(a.port, a.host);
  const connected = 'path' in a || !a.tls ? 'connect' : 'secureConnect';
  // Each write goes out as it is made: a header dribbled a byte at a time arrives in pieces.
  if (!('path' in a)) sock.setNoDelay(true);
  const chunks: Buffer[] = [];
  sock.on('data', (c: Buffer) => chunks.push(c));
  sock.on('error', () => {}); // a reset is one way for the server to close
  // allowHalfOpen is off: when the server ends, this side ends too, and the socket closes.
  const ended = new Promise<RawEnding>((resolve) => sock.on('close', () => resolve({ bytes: Buffer.concat(chunks), code: null })));
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.once(connected, () => resolve({ send: (b) => void sock.write(b), received: () => Buffer.concat(chunks), close: () => sock.destroy(), ended }));
  });
}

/** The raw client builds its URL itself: it checks the wire, not our URL builder. */
function wsUrl(address: string): string {
  const a = parseAddress(address);
  return 'path' in a ? `ws+unix:${a.path}:/skein` : `ws://${a.host}:${a.port}/skein`;
}

function rawWebSocket(address: string): Promise<RawPeer> {
  const ws = new WebSocket(wsUrl(address), { perMessageDeflate: false });
  const chunks: Buffer[] = [];
  ws.on('message', (data: Buffer) => chunks.push(data));
  ws.on('error', () => {});
  const ended = new Promise<RawEnding>((resolve) => ws.on('close', (code) => resolve({ bytes: Buffer.concat(chunks), code })));
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => resolve({ send: (b) => ws.send(b, { binary: true }), received: () => Buffer.concat(chunks), close: () => ws.terminate(), ended }));
  });
}

/** A well-formed request header for numeric action 1, then `mangle` applied to it. */
export function requestHeader(mangle: (h: Uint8Array) => void): Uint8Array {
  const h = new Uint8Array(protocol.REQUEST_HEADER_LENGTH);
  protocol.writeRequestHeader(h, 1, 0, 1, 0, 0);
  mangle(h);
  return h;
}
