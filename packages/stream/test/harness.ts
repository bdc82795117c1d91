export { memoryLogger } from '@skein/test-utils';
import { memoryLogger, olderSkeinClient, portOf, startProcess, startTcpRelay, type testTls } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { silentLogger, type FrameConn, type Transport } from '@skein/core';
import { ClientStream, RpcServer, createRouter, type ClientStreamOptions, type ActionHandler, type RpcServerOptions } from '../src/index.js';
import { HELLO_ACTION, REQUEST_HEADER_LENGTH, RESPONSE_HEADER_LENGTH, readRequestHeader, readResponseHeader, writeRequestHeader, writeResponseHeader, type ResponseFlag } from '../src/wire/protocol.js';
import { HelloRole, encodeHello, type HelloEntry } from '../src/wire/hello.js';
import { encodeCallHead } from '../src/wire/call-head.js';
import { golden } from './golden.js';
import { CANCEL_ACTION, HEAD_ACTION } from '../src/wire/extension-frames.js';

export const transport = tcpTransport(nodeRuntime);

/** A Skein server on `on` whose action 1 counts its runs, closed by `cleanup`: its port, and its runs so far. */
export async function countingServer(on: Transport, cleanup: (() => unknown)[]): Promise<{ port: number; ran: () => number }> {
  let ran = 0;
  const server = new RpcServer({ dispatch: createRouter({ 1: () => void ran++ }), logger: silentLogger });
  const bound = await server.listen(on, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return { port: portOf(bound), ran: () => ran };
}

/** A countingServer over mTLS, TLS 1.3 only (`mtls` from the file's testTls): it refuses a certificate after the client's handshake is done. */
export const mtlsServer = (mtls: ReturnType<typeof testTls>['mtls'], cleanup: (() => unknown)[]) =>
  countingServer(tcpTransport(nodeRuntime, { tls: mtls({ minVersion: 'TLSv1.3' }) }), cleanup);

/** One request frame as a raw peer sends it: `action` (a number, or a string's UTF-8 after the header), `seq`, `msg`, no blob. */
export function requestFrame(action: number | string, seq: number, msg: Uint8Array = new Uint8Array(0)): Uint8Array {
  const name = typeof action === 'string' ? new TextEncoder().encode(action) : new Uint8Array(0);
  const out = new Uint8Array(REQUEST_HEADER_LENGTH + name.length + msg.length);
  writeRequestHeader(out, typeof action === 'string' ? '' : action, name.length, seq, msg.length, 0);
  out.set(name, REQUEST_HEADER_LENGTH);
  out.set(msg, REQUEST_HEADER_LENGTH + name.length);
  return out;
}

/**
 * A call a raw peer abandons, as the abandoned-handler tests send it: its head (no deadline, or
 * `remainingMs`), the request, then its cancel, unless it is left to its deadline.
 */
export function abandonedCall(peer: { write(b: Uint8Array): unknown }, action: number | string, seq: number, remainingMs?: number): void {
  peer.write(requestFrame(HEAD_ACTION, seq, encodeCallHead(remainingMs, undefined)));
  peer.write(requestFrame(action, seq));
  if (remainingMs === undefined) peer.write(requestFrame(CANCEL_ACTION, seq));
}

/** How many of the calls of seqs 1..`n` a raw peer has had an answer to (whatever it was). */
export function answeredOf(peer: { received(): Uint8Array }, n: number): number {
  const seqs = new Set<number>();
  for (const f of responseFrames(peer.received())) if (f.seq >= 1 && f.seq <= n) seqs.add(f.seq);
  return seqs.size;
}

/** The whole responses in `bytes` as a raw peer reads them: seq, flag and body (msg and blob, or the error string; a reverse call's msg and blob). */
export function responseFrames(bytes: Uint8Array): { seq: number; flag: number; body: Uint8Array }[] {
  const out = [];
  for (let at = 0; at + RESPONSE_HEADER_LENGTH <= bytes.length; ) {
    const h = readResponseHeader(bytes.subarray(at, at + RESPONSE_HEADER_LENGTH));
    // Ok answers and reverse calls (timed or not) carry msg and blob; error strings their bytes.
    const length = h.flag === 0 || h.flag === 0x18 || h.flag === 0x1a ? h.msgLength + h.blobLength : h.flag === 2 ? h.blobLength : 0;
    if (at + RESPONSE_HEADER_LENGTH + length > bytes.length) break;
    out.push({ seq: h.seq, flag: h.flag, body: bytes.subarray(at + RESPONSE_HEADER_LENGTH, at + RESPONSE_HEADER_LENGTH + length) });
    at += RESPONSE_HEADER_LENGTH + length;
  }
  return out;
}

/** A whole response frame as a raw server sends it: header and body (`msg`, no blob). */
export function responseFrame(flag: number, seq: number, msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(RESPONSE_HEADER_LENGTH + msg.length);
  writeResponseHeader(out, flag as ResponseFlag, msg.length, seq, 0);
  out.set(msg, RESPONSE_HEADER_LENGTH);
  return out;
}

/** The requests in `bytes` as a raw server reads them: header fields and the first byte of the msg (a reverse answer's flag). */
export function requestFrames(bytes: Uint8Array): { action: number; seq: number; flag: number; msg: Uint8Array }[] {
  const out = [];
  for (let at = 0; at + REQUEST_HEADER_LENGTH <= bytes.length; ) {
    const h = readRequestHeader(bytes.subarray(at, at + REQUEST_HEADER_LENGTH));
    const bodyAt = at + REQUEST_HEADER_LENGTH + h.actionLength;
    if (bodyAt + h.msgLength + h.blobLength > bytes.length) break;
    const msg = bytes.subarray(bodyAt, bodyAt + h.msgLength);
    out.push({ action: h.action, seq: h.seq, flag: msg[0]!, msg });
    at = bodyAt + h.msgLength + h.blobLength;
  }
  return out;
}

/** A raw peer's hello request (seq 0) offering `entries`. */
export function helloOffer(entries: readonly HelloEntry[]): Uint8Array {
  const offer = encodeHello(HelloRole.Offer, entries);
  const frame = new Uint8Array(REQUEST_HEADER_LENGTH + offer.length);
  writeRequestHeader(frame, HELLO_ACTION, 0, 0, offer.length, 0);
  frame.set(offer, REQUEST_HEADER_LENGTH);
  return frame;
}

/**
 * A server whose clients' cap is 1 (pass `peers` in `opts`), recording the kind of the
 * connection of every call to action 1: for the tests of who gets in at the caps.
 */
export function kindRecordingServer(opts: Partial<RpcServerOptions>) {
  const logger = memoryLogger();
  const kinds: string[] = [];
  const server = new RpcServer({ dispatch: createRouter({ 1: (req) => void kinds.push(req.conn.kind!) }), logger, clients: { maxConnections: 1 }, ...opts });
  return { server, logger, kinds };
}

/**
 * The TCP transport, recording every part written on the connections it makes or accepts (a
 * copy: header buffers are reused), to check exactly what a side writes.
 */
export function recordingTransport(): { transport: Transport; writes: Uint8Array[] } {
  const writes: Uint8Array[] = [];
  const record = (conn: FrameConn): FrameConn => {
    const write = conn.write.bind(conn);
    conn.write = (part) => {
      writes.push(part.slice());
      write(part);
    };
    return conn;
  };
  return {
    writes,
    transport: {
      name: transport.name,
      connect: async (address, spec, opts) => record(await transport.connect(address, spec, opts)),
      listen: (address, spec, accept) => transport.listen(address, spec, (conn) => accept(record(conn))),
    },
  };
}

/**
 * The TCP transport, its connections' hellos without the entry of `kind`: a ClientStream through
 * it speaks as an older Skein client that did not offer that kind (22: reverse deadlines and
 * cancels; 24: the in-flight cap), and the server answers it as it would answer one (test-utils olderSkeinClient).
 */
export function olderClientTransport(kind: number): Transport {
  return olderSkeinClient(transport, kind);
}

/** Counts requests being handled at once, for window and backpressure checks. */
export class Concurrency {
  now = 0;
  max = 0;
  total = 0;
  enter(): void {
    this.total++;
    this.max = Math.max(this.max, ++this.now);
  }
  leave(): void {
    this.now--;
  }
}

export interface Started {
  server: RpcServer;
  address: string;
  connect(opts?: Partial<ClientStreamOptions>): Promise<ClientStream>;
}

export async function startServer(
  table: Record<string | number, ActionHandler>,
  opts: Partial<RpcServerOptions> = {},
  listenOn = '127.0.0.1:0',
): Promise<Started> {
  const server = new RpcServer({ dispatch: createRouter(table), ...opts });
  const a = await server.listen(transport, listenOn);
  const address = 'path' in a ? `unix:${a.path}` : `${a.host}:${a.port}`;
  return { server, address, connect: (o = {}) => ClientStream.connect({ transport, address, ...o }) };
}

export const bytes = (...b: number[]) => new Uint8Array(b);
export const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};
export const readU32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);

/**
 * A raw TCP peer that speaks no Skein: it sends exact bytes and collects what comes back until
 * the server closes. Destroyed by `cleanup` (the test file's list).
 */
export function rawPeer(address: string, cleanup: (() => unknown)[]) {
  const [host, port] = address.split(':');
  const sock = net.connect(Number(port), host);
  cleanup.push(() => sock.destroy());
  const chunks: Buffer[] = [];
  let receivedBytes = 0;
  sock.on('data', (c: Buffer) => (chunks.push(c), (receivedBytes += c.length)));
  const closed = new Promise<Buffer>((resolve) => sock.on('close', () => resolve(Buffer.concat(chunks))));
  sock.on('error', () => {});
  return {
    send: (b: Uint8Array) => sock.write(b),
    received: () => Buffer.concat(chunks),
    /** Bytes received so far, without joining them. */
    receivedBytes: () => receivedBytes,
    /** Stops reading: the server's replies back up into its send buffer. */
    stopReading: () => void sock.pause(),
    startReading: () => void sock.resume(),
    closed,
  };
}

/**
 * A client of a server running `routes` (its read timeout off: only the client's keepalive is
 * under test) through a relay throttled to `bytesPerSecond` once the hello is answered, so the
 * call made next goes at once and crosses a slow link.
 */
export async function overSlowLink(cleanup: (() => unknown)[], routes: Record<string, ActionHandler>, bytesPerSecond: number, opts: Partial<ClientStreamOptions> = {}): Promise<ClientStream> {
  const server = new RpcServer({ dispatch: createRouter(routes), readTimeoutMs: 0 });
  cleanup.push(() => server.close());
  const a = (await server.listen(transport, '127.0.0.1:0')) as { port: number };
  const relay = await startTcpRelay(`127.0.0.1:${a.port}`);
  cleanup.push(() => relay.close());
  const client = await ClientStream.connect({ transport, address: relay.address, ...opts });
  cleanup.push(() => client.destroy());
  await client.ping();
  relay.throttle(bytesPerSecond);
  return client;
}

/**
 * fixtures/server.mjs in a child process, killed (woken first, if a test froze it with SIGSTOP)
 * at cleanup: a server a test can freeze or kill while its client runs on.
 */
export async function fixtureServer(cleanup: (() => unknown)[]) {
  const proc = startProcess(process.execPath, [fileURLToPath(new URL('./fixtures/server.mjs', import.meta.url))]);
  cleanup.push(() => {
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
    return proc.exited;
  });
  const [, port] = await proc.waitForLine(/listening (\d+)/, 20_000);
  return { proc, address: `127.0.0.1:${port}` };
}

/**
 * The TCP transport, counting the bytes written on the connections it makes: what the client
 * holds unsent is those less what its kernel took (`FrameConn.sentBytes`), and `maxHeld` is the
 * most it held at any write. `conns`: those connections, as made (their `congested` is readable).
 */
export function writeCountingTransport(): { transport: Transport; maxHeld: () => number; written: () => number; conns: FrameConn[] } {
  let written = 0;
  let maxHeld = 0;
  const conns: FrameConn[] = [];
  return {
    transport: {
      name: transport.name,
      connect: async (address, spec, opts) => {
        const c: FrameConn = await transport.connect(address, spec, opts);
        const write = c.write.bind(c);
        c.write = (part) => {
          written += part.length;
          maxHeld = Math.max(maxHeld, written - c.sentBytes!);
          write(part);
        };
        conns.push(c);
        return c;
      },
      listen: (address, spec, accept) => transport.listen(address, spec, accept),
    },
    maxHeld: () => maxHeld,
    written: () => written,
    conns,
  };
}

/**
 * A raw server that answers the hello with `answer` (by default every extension but calls both
 * ways), then never reads again; `socket` is where it writes (it may `resume()` to read again,
 * dropping what it reads). Closed by `cleanup`.
 */
export async function deafServer(cleanup: (() => unknown)[], answer: Uint8Array = golden.helloAnswerFull): Promise<{ address: string; socket: Promise<net.Socket> }> {
  let resolveSocket!: (s: net.Socket) => void;
  const socket = new Promise<net.Socket>((r) => (resolveSocket = r));
  const server = net.createServer((s) => {
    s.on('error', () => {});
    const chunks: Buffer[] = [];
    const read = (c: Buffer): void => {
      chunks.push(c);
      const all = Buffer.concat(chunks);
      if (all.length < REQUEST_HEADER_LENGTH) return;
      const h = readRequestHeader(all.subarray(0, REQUEST_HEADER_LENGTH));
      if (all.length < REQUEST_HEADER_LENGTH + h.msgLength) return;
      s.off('data', read);
      // Deaf from now on: what the client writes stays in its own memory once the kernel's buffers are full.
      s.pause();
      s.write(answer);
      resolveSocket(s);
    };
    s.on('data', read);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as net.AddressInfo;
  return { address: `127.0.0.1:${port}`, socket };
}
