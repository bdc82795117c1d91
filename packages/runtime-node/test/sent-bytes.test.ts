import { describe, expect, it } from 'vitest';
import type { TlsOptions } from '@skein/core';
import { suiteCerts, testTls, waitFor, cleanups } from '@skein/test-utils';
import { nodeRuntime } from '../src/index.js';
import { bytes, listenQueue, record, type Recorder } from './recorder.js';

/*
 * ByteConn.sentBytes on Node's sockets: what the kernel has taken, read from libuv's handle (core's
 * nodeSocketSentBytes). A server's write-stall check (docs/protocol.md, "Server pings") takes a
 * count that does not grow for a frozen peer, so it must grow whenever the peer reads, in the
 * middle of a write too: here one write far larger than the kernels between the two hold, so
 * it cannot be done while the peer has read only part of it.
 */

const certs = suiteCerts();
const { serverTls, clientTls } = testTls(certs);

const cleanup = cleanups();

const LOCAL = { host: '127.0.0.1', port: 0 };
/** One write: far more than loopback's send and receive buffers hold together. */
const WRITE = 96 * 1024 * 1024;
/** What the peer reads of it before it stops: a few times what a kernel wakes a writer for. */
const READ = 16 * 1024 * 1024;

async function pair(tls: { server: TlsOptions; client: TlsOptions } | undefined): Promise<{ client: Recorder; server: Recorder }> {
  const q = await listenQueue(LOCAL, tls && { tls: tls.server });
  cleanup.push(() => q.listener.close());
  const client = record(await nodeRuntime.connect(q.listener.address, tls && { tls: tls.client }));
  const server = record(await q.next());
  cleanup.push(() => (client.conn.close(), server.conn.close()));
  client.conn.write([bytes('ping')]);
  await server.receives('ping');
  return { client, server };
}

const received = (r: Recorder): number => r.chunks.reduce((n, c) => n + c.length, 0);

describe('ByteConn.sentBytes (node:net, node:tls)', () => {
  const TLS = () => ({ server: serverTls(), client: clientTls() });
  it.each([
    ['a plaintext client', false, 'client'],
    ['a plaintext server', false, 'server'],
    // tls.connect's socket has no `_parent` socket beneath it: its TLS handle's count moved only once a whole write was done.
    ['a TLS client', true, 'client'],
    ['a TLS server', true, 'server'],
  ] as const)('on %s: at least what the peer read, in the middle of one large write', async (_name, secure, side) => {
    const { client, server } = await pair(secure ? TLS() : undefined);
    const [writer, reader] = side === 'client' ? [client, server] : [server, client];
    const before = writer.conn.sentBytes!;
    expect(typeof before).toBe('number');
    reader.chunks.length = 0;
    // The peer reads part of it, then stops: the write cannot be done (it waits for a drain).
    expect(writer.conn.write([new Uint8Array(WRITE)])).toBe(false);
    await waitFor(() => received(reader) >= READ || undefined, { timeoutMs: 15_000, what: 'the peer reading part of the write' });
    reader.conn.pause();
    // The peer's bytes came through the writer's kernel: it took them (and TLS's records around them) first.
    const read = received(reader);
    expect(writer.conn.sentBytes! - before).toBeGreaterThanOrEqual(read);
    expect(writer.drains).toBe(0);
  });
});
