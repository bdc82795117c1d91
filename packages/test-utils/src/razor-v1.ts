import net from 'node:net';
import { MAGIC, REQUEST_HEADER, RESPONSE_HEADER, STRING_ACTION, claimingRequest, claimingResponse } from './claimed-headers.js';

/**
 * A razor-rpc v1 peer, server and client, written from the wire facts alone
 * (docs/razor-protocol.md in the developers' guide), never from Skein's code: a mixed fleet's old
 * half, to check that Skein's extensions stay invisible to it and degrade as documented.
 * It knows no hello, heads, cancels, streams, reverse calls or credentials: a v1 server answers
 * any numeric action but 0 with `rpc_decode` (razor's defect 6), a v1 client reads only flags 0-2.
 */

/**
 * What a v1 handler answers: a reply msg, an error string sent with flag 2, or (a broken server)
 * the msg laid out as flag 0 under another flag.
 */
export type RazorAnswer = Uint8Array | { error: string } | { flag: number; msg: Uint8Array };
/** A v1 server's handler for one string action; a promise that never settles holds the call. */
export type RazorHandler = (msg: Buffer) => RazorAnswer | Promise<RazorAnswer>;

/** One request a v1 server read: its numeric action (bit 31 set for a string one), name and seq. */
export interface RazorRequest {
  action: number;
  name: string;
  seq: bigint;
}

export interface RazorServer {
  readonly address: string;
  /** Every request read, pings included, in order. */
  readonly seen: RazorRequest[];
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Cuts every connection (a crash, as a peer sees it). */
  dropConnections(): void;
  close(): Promise<void>;
}

export interface RazorServerOptions {
  /** Numeric actions that get no answer at all: a v1 server that drops what it does not know. */
  unanswered?: readonly number[];
  /** An action without a handler: `rpc_decode` or `rpc_method_notfound`, as razor (default), or an ok echo of its msg (a dispatch that echoes whatever comes). */
  unknown?: 'razor' | 'echo';
}

/**
 * Starts a v1 server on a loopback port: pings answered, other actions routed to `handlers` by
 * name (string actions) or number (the stream layer's numeric ones).
 */
export async function startRazorServer(handlers: Record<string | number, RazorHandler>, opts: RazorServerOptions = {}): Promise<RazorServer> {
  const seen: RazorRequest[] = [];
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const srv = net.createServer((sock) => {
    accepted++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    readFrames(sock, requestLength, (frame) => {
      const action = frame.readUInt32LE(4);
      const seq = frame.readBigUInt64LE(8);
      const nameLength = action & STRING_ACTION ? action & 0x7fff_ffff : 0;
      const name = frame.toString('utf8', REQUEST_HEADER, REQUEST_HEADER + nameLength);
      const msg = frame.subarray(REQUEST_HEADER + nameLength, REQUEST_HEADER + nameLength + frame.readUInt32LE(24));
      seen.push({ action, name, seq });
      if (action === 0) return void sock.write(okResponse(seq, Buffer.alloc(0)));
      if (opts.unanswered?.includes(action)) return;
      const handler = handlers[nameLength > 0 ? name : action];
      if (!handler) {
        if (opts.unknown === 'echo') return void sock.write(okResponse(seq, msg));
        // razor answers an unknown numeric action rpc_decode (its defect 6), an unknown method rpc_method_notfound.
        return void sock.write(errorResponse(seq, nameLength > 0 ? 'rpc_method_notfound' : 'rpc_decode'));
      }
      void Promise.resolve(handler(Buffer.from(msg))).then((a) => {
        if (sock.writable) sock.write(answerFrame(seq, a));
      });
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    seen,
    get accepted() {
      return accepted;
    },
    dropConnections: () => sockets.forEach((s) => s.destroy()),
    close: () => {
      sockets.forEach((s) => s.destroy());
      return new Promise((resolve) => srv.close(() => resolve()));
    },
  };
}

/** A response a v1 client read. */
export interface RazorReply {
  flag: number;
  /** Flag 0: the msg; flag 2: the error string; flag 1: empty. */
  body: Buffer;
  /** Flag 1: the error number. */
  errorNumber: number;
}

export interface RazorClient {
  /** Sends a string-action request with the next seq; settles with its response, or rejects when the connection ends first. */
  call(action: string, msg?: Uint8Array): Promise<RazorReply>;
  ping(): Promise<RazorReply>;
  /** Every response flag received, in order: a v1 client knows only 0, 1 and 2. */
  readonly flags: number[];
  /** Settles when the server ended or cut the connection. */
  readonly closed: Promise<void>;
  /** Its socket: a test pauses it to play a v1 client that froze (its window shuts, as a stopped process's does). */
  readonly socket: net.Socket;
  destroy(): void;
}

/** Connects a v1 client: no hello, seqs from 1, one per request and per ping. */
export async function connectRazorClient(address: string): Promise<RazorClient> {
  const i = address.lastIndexOf(':');
  const sock = net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
  const pending = new Map<bigint, { resolve: (r: RazorReply) => void; reject: (e: Error) => void }>();
  const flags: number[] = [];
  let nextSeq = 1n;
  const closed = new Promise<void>((resolve) =>
    sock.on('close', () => {
      for (const p of pending.values()) p.reject(new Error('rpc_io_err: connection lost'));
      pending.clear();
      resolve();
    }),
  );
  sock.on('error', () => {});
  readFrames(sock, responseLength, (frame) => {
    const flag = frame[3]!;
    flags.push(flag);
    const seq = frame.readBigUInt64LE(8);
    const reply = { flag, body: frame.subarray(RESPONSE_HEADER), errorNumber: flag === 1 ? frame.readUInt32LE(4) : 0 };
    pending.get(seq)?.resolve(reply);
    pending.delete(seq);
  });
  const request = (action: number, name: Buffer, msg: Uint8Array): Promise<RazorReply> => {
    const seq = nextSeq++;
    const h = claimingRequest({ ...(name.length > 0 ? { actionLength: name.length } : { action }), msgLength: msg.length, blobLength: 0, seq });
    const reply = new Promise<RazorReply>((resolve, reject) => pending.set(seq, { resolve, reject }));
    if (!sock.writable) pending.get(seq)!.reject(new Error('rpc_io_err: connection lost'));
    else sock.write(Buffer.concat([h, name, msg]));
    return reply;
  };
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.once('connect', () => (sock.off('error', reject), resolve()));
  });
  return {
    call: (action, msg = new Uint8Array(0)) => request(0, Buffer.from(action, 'utf8'), msg),
    ping: () => request(0, Buffer.alloc(0), new Uint8Array(0)),
    flags,
    closed,
    socket: sock,
    destroy: () => void sock.destroy(),
  };
}

/** Splits a socket's bytes into whole frames; a bad magic ends the connection, as razor's does. */
function readFrames(sock: net.Socket, lengthOf: (b: Buffer) => number | undefined, frame: (f: Buffer) => void): void {
  let buf = Buffer.alloc(0);
  sock.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    for (;;) {
      const total = lengthOf(buf);
      if (total === undefined || buf.length < total) return;
      if (buf.readUInt16LE(0) !== MAGIC) return void sock.destroy();
      frame(buf.subarray(0, total));
      buf = buf.subarray(total);
    }
  });
}

function requestLength(b: Buffer): number | undefined {
  if (b.length < REQUEST_HEADER) return undefined;
  const action = b.readUInt32LE(4);
  return REQUEST_HEADER + (action & STRING_ACTION ? action & 0x7fff_ffff : 0) + b.readUInt32LE(24) + b.readUInt32LE(28);
}

/** A v1 response's length; a flag a v1 client does not know has no length it can trust: the whole header only. */
function responseLength(b: Buffer): number | undefined {
  if (b.length < RESPONSE_HEADER) return undefined;
  const flag = b[3];
  if (flag === 0) return RESPONSE_HEADER + b.readUInt32LE(4) + b.readInt32LE(16);
  if (flag === 2) return RESPONSE_HEADER + b.readInt32LE(16);
  return RESPONSE_HEADER;
}

function answerFrame(seq: bigint, a: RazorAnswer): Buffer {
  if (a instanceof Uint8Array) return okResponse(seq, a);
  if ('error' in a) return errorResponse(seq, a.error);
  const frame = okResponse(seq, a.msg);
  frame[3] = a.flag;
  return frame;
}

function okResponse(seq: bigint, msg: Uint8Array): Buffer {
  return Buffer.concat([claimingResponse(0, msg.length, 0, seq), msg]);
}

function errorResponse(seq: bigint, error: string): Buffer {
  const body = Buffer.from(error, 'utf8');
  return Buffer.concat([claimingResponse(2, 0, body.length, seq), body]);
}
