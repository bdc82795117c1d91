import net from 'node:net';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { ClientStream, type RpcServerOptions } from '../src/index.js';
import { kindRecordingServer } from './harness.js';

/*
 * The set-up of the probation tests: a server with one client place and one peer place, whose
 * peers are the connections presenting the credentials "peer-1", with the clients' place taken,
 * so the next connection waits on probation in the peer's place.
 */

const transport = tcpTransport(nodeRuntime);
const admit = (c: { principal?: unknown }): boolean => c.principal === 'peer-1';

/** Starts it (`opts` over the defaults); `cleanup` gets what closes it. */
export async function probationServer(cleanup: (() => unknown)[], opts: Partial<RpcServerOptions> = {}) {
  const { server, logger, kinds } = kindRecordingServer({ authenticate: ({ text }) => ({ principal: text }), requireAuth: false, peers: { admit, maxConnections: 1 }, ...opts });
  const { port } = (await server.listen(transport, '127.0.0.1:0')) as { port: number };
  cleanup.push(() => server.close());
  const address = `127.0.0.1:${port}`;
  // The clients' one place, taken.
  const first = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
  cleanup.push(() => first.destroy());
  await first.call(1);
  return { server, logger, kinds, port, address };
}

/**
 * The error-string replies (flag 2) in `b`, by seq: the string each carries (a response header
 * is 20 bytes: msg_len at 4, seq at 8, the blob's or error string's length at 16).
 */
export function errorReplies(b: Buffer): Map<number, string> {
  const out = new Map<number, string>();
  for (let at = 0; at + 20 <= b.length; ) {
    const size = b.readUInt32LE(at + 4) + b.readUInt32LE(at + 16);
    if (b[at + 3] === 2) out.set(Number(b.readBigUInt64LE(at + 8)), b.subarray(at + 20, at + 20 + size).toString('latin1'));
    at += 20 + size;
  }
  return out;
}

/**
 * A raw connection to `port` that may still send after the server ended its side (as a call
 * already on its way when the server's end was sent does), collecting what it reads.
 */
export function halfOpenConn(port: number, cleanup: (() => unknown)[]) {
  const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  cleanup.push(() => sock.destroy());
  sock.on('error', () => {});
  const chunks: Buffer[] = [];
  sock.on('data', (c: Buffer) => chunks.push(c));
  sock.on('end', () => sock.end());
  const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
  return { sock, closed, read: () => Buffer.concat(chunks) };
}
