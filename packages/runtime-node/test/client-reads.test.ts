import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ByteConn } from '@skein/core';
import { waitFor, cleanups, sendQueueSettled } from '@skein/test-utils';
import { nodeRuntime } from '../src/index.js';
import { bytes, listenQueue, record, settle, type AcceptQueue, type Recorder } from './recorder.js';

// A client socket reads into one buffer shared by every client socket in the process, or into
// buffers of its own while its reads are long (read-buffer.ts): these tests drive real sockets
// through every way that could go wrong.

const cleanup = cleanups();

async function tcpQueue(): Promise<AcceptQueue> {
  const q = await listenQueue({ host: '127.0.0.1', port: 0 });
  cleanup.push(() => q.listener.close());
  return q;
}

/** The net.Socket under a NodeByteConn: to watch what the kernel handed over, which no handler shows. */
const socketOf = (conn: ByteConn): net.Socket => (conn as unknown as { socket: net.Socket }).socket;

/** `n` bytes of a pattern that differs per connection (`seed`) and per position. */
function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 17 + (i >> 12)) & 0xff;
  return b;
}

/** A client bound to a recorder that also keeps, per chunk, a copy taken the moment it arrived. */
function recordWithSnapshots(conn: ByteConn): Recorder & { snapshots: Uint8Array[] } {
  const rec = record(conn) as Recorder & { snapshots: Uint8Array[] };
  rec.snapshots = [];
  const push = rec.chunks.push.bind(rec.chunks);
  rec.chunks.push = (...chunks: Uint8Array[]): number => {
    for (const c of chunks) rec.snapshots.push(c.slice());
    return push(...chunks);
  };
  return rec;
}

const received = (rec: Recorder): number => rec.chunks.reduce((sum, c) => sum + c.length, 0);

describe('client reads (shared read buffer)', () => {
  it('many client connections reading at once, short and long reads interleaved: each gets exactly its bytes, and no later read changes a kept chunk', async () => {
    const q = await tcpQueue();
    const n = 12;
    const clients: (Recorder & { snapshots: Uint8Array[] })[] = [];
    const servers: ByteConn[] = [];
    for (let i = 0; i < n; i++) {
      clients.push(recordWithSnapshots(await nodeRuntime.connect(q.listener.address)));
      servers.push(await q.next());
    }
    cleanup.push(() => {
      for (const c of clients) c.conn.close();
      for (const s of servers) s.close();
    });
    // Sizes across the switch between shared and own buffers: short, the 4 KiB threshold, exactly
    // 64 KiB, and bulk; every server writes in the same turn, so reads of different sockets
    // interleave in one pass of the event loop.
    const sizes = [1, 100, 4095, 4096, 4097, 65536, 65537, 300_000, 7, 65536 * 3, 50, 1 << 20, 3];
    const expected: Uint8Array[][] = clients.map(() => []);
    for (const [round, size] of sizes.entries()) {
      for (let i = 0; i < n; i++) {
        const part = pattern(size + i, round * n + i + 1);
        expected[i]!.push(part);
        servers[i]!.write([part]);
      }
      if (round % 3 === 2) await settle(1);
    }
    const total = (i: number): number => expected[i]!.reduce((sum, p) => sum + p.length, 0);
    await waitFor(() => clients.every((c, i) => received(c) === total(i)), { what: 'every client\'s bytes', timeoutMs: 20_000 });
    // Then short reads only, one per connection per turn, all into the shared buffer.
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < n; i++) {
        const part = pattern(1 + ((round * 7 + i * 13) % 200), 1000 + round * n + i);
        expected[i]!.push(part);
        servers[i]!.write([part]);
      }
      await waitFor(() => clients.every((c, i) => received(c) === total(i)), { what: `short round ${round}` });
    }
    for (const [i, c] of clients.entries()) {
      expect(Buffer.concat(c.chunks).equals(Buffer.concat(expected[i]!)), `connection ${i}'s bytes`).toBe(true);
      for (const [k, chunk] of c.chunks.entries()) expect(Buffer.from(chunk).equals(Buffer.from(c.snapshots[k]!)), `connection ${i}, chunk ${k}`).toBe(true);
      expect(c.chunks.every((chunk) => chunk.constructor === Uint8Array && chunk.length > 0)).toBe(true);
    }
  });

  it('a paused client stops reading: a server flooding it fills the kernel buffers and waits, the client holds nothing; resume() gets every byte in order', async () => {
    const q = await tcpQueue();
    const client = record(await nodeRuntime.connect(q.listener.address));
    const server = record(await q.next());
    cleanup.push(() => (client.conn.close(), server.conn.close()));
    // The first chunk arrives, then the client pauses from inside its data handler (a read callback).
    const first = pattern(10, 1);
    server.conn.write([first]);
    await waitFor(() => client.chunks.length === 1, { what: 'the first chunk' });
    client.conn.pause();
    const flood = pattern(48 << 20, 2);
    for (let at = 0; at < flood.length; at += 1 << 20) server.conn.write([flood.subarray(at, at + (1 << 20))]);
    const clientSocket = socketOf(client.conn);
    const serverSocket = socketOf(server.conn);
    await sendQueueSettled(serverSocket, () => settle(2));
    // Loopback kernel buffers hold a few MiB at most: the rest waits in the server's queue.
    expect(clientSocket.bytesRead).toBeLessThan(24 << 20);
    expect(serverSocket.writableLength).toBeGreaterThan(16 << 20);
    expect(server.drains).toBe(0);
    expect(client.chunks).toHaveLength(1);
    client.conn.resume();
    await waitFor(() => received(client) === first.length + flood.length, { what: 'the flood', timeoutMs: 20_000 });
    expect(Buffer.concat(client.chunks).equals(Buffer.concat([first, flood]))).toBe(true);
  });

  it('a client bound and paused in one turn stays paused: a server flooding it fills the kernel buffers and waits', async () => {
    // Node's resume() schedules a read(0) that, in onread mode, starts reading whatever pause()
    // said since; the read callback must stop it (the conformance kit's backpressure scenario).
    const q = await tcpQueue();
    // Bound (which resumes the socket) and paused in the same turn, as a slow reader does.
    const client = record(await nodeRuntime.connect(q.listener.address));
    client.conn.pause();
    const server = record(await q.next());
    cleanup.push(() => (client.conn.close(), server.conn.close()));
    const flood = pattern(48 << 20, 3);
    for (let at = 0; at < flood.length; at += 1 << 20) server.conn.write([flood.subarray(at, at + (1 << 20))]);
    const serverSocket = socketOf(server.conn);
    await sendQueueSettled(serverSocket, () => settle(2));
    expect(socketOf(client.conn).bytesRead).toBeLessThan(24 << 20);
    expect(serverSocket.writableLength).toBeGreaterThan(16 << 20);
    client.conn.resume();
    await waitFor(() => received(client) === flood.length, { what: 'the flood', timeoutMs: 20_000 });
    expect(Buffer.concat(client.chunks).equals(flood)).toBe(true);
  });

  it('a pause from inside the data handler holds the rest of a burst back until resume()', async () => {
    const q = await tcpQueue();
    const clientConn = await nodeRuntime.connect(q.listener.address);
    const serverConn = await q.next();
    record(serverConn);
    cleanup.push(() => (clientConn.close(), serverConn.close()));
    const chunks: Uint8Array[] = [];
    let pausedAt = -1;
    clientConn.bind({
      data: (chunk) => {
        chunks.push(chunk);
        if (pausedAt < 0) {
          pausedAt = chunks.length;
          clientConn.pause();
        }
      },
      drain: () => {},
      close: () => {},
    });
    const burst = pattern(8 << 20, 3);
    serverConn.write([burst]);
    await waitFor(() => pausedAt > 0, { what: 'the first chunk' });
    await settle(20);
    expect(chunks).toHaveLength(pausedAt);
    expect(socketOf(clientConn).bytesRead).toBeLessThan(burst.length);
    clientConn.resume();
    await waitFor(() => chunks.reduce((s, c) => s + c.length, 0) === burst.length, { what: 'the burst' });
    expect(Buffer.concat(chunks).equals(burst)).toBe(true);
  });

  it('the peer\'s half-close reaches the end handler after its last byte (bulk then end), and the client still writes its answer', async () => {
    const q = await tcpQueue();
    const payload = pattern(3 << 20, 4);
    const clientConn = await nodeRuntime.connect(q.listener.address);
    const server = record(await q.next());
    cleanup.push(() => (clientConn.close(), server.conn.close()));
    let atEnd = -1;
    const client = record(clientConn, (rec) => {
      atEnd = received(rec);
      rec.conn.write([bytes('answer')]);
      rec.conn.end();
    });
    server.conn.write([payload]);
    server.conn.end();
    await server.receives('answer');
    expect(atEnd).toBe(payload.length);
    expect(Buffer.concat(client.chunks).equals(payload)).toBe(true);
    expect(await client.closed).toBeUndefined();
  });

  it('a close from inside the data handler delivers nothing more, and reports the close once', async () => {
    const q = await tcpQueue();
    const clientConn = await nodeRuntime.connect(q.listener.address);
    const server = record(await q.next());
    cleanup.push(() => server.conn.close());
    const chunks: Uint8Array[] = [];
    const closes: (Error | undefined)[] = [];
    clientConn.bind({
      data: (chunk) => {
        chunks.push(chunk);
        clientConn.close();
      },
      drain: () => {},
      close: (err) => closes.push(err),
    });
    server.conn.write([pattern(4 << 20, 5)]);
    await waitFor(() => closes.length > 0, { what: 'the close' });
    await settle(10);
    expect(chunks).toHaveLength(1);
    expect(closes).toEqual([undefined]);
  });

  it('empty writes make no empty chunks; exact 64 KiB reads arrive whole', async () => {
    const q = await tcpQueue();
    const client = record(await nodeRuntime.connect(q.listener.address));
    const server = record(await q.next());
    cleanup.push(() => (client.conn.close(), server.conn.close()));
    server.conn.write([new Uint8Array(0)]);
    server.conn.write([bytes('x')]);
    await client.receives('x');
    const exact = pattern(65536, 6);
    for (let i = 0; i < 4; i++) {
      const before = received(client);
      server.conn.write([exact]);
      await waitFor(() => received(client) === before + exact.length, { what: `64 KiB #${i}` });
    }
    expect(client.chunks.every((c) => c.length > 0)).toBe(true);
    expect(Buffer.concat(client.chunks.slice(1)).equals(Buffer.concat([exact, exact, exact, exact]))).toBe(true);
  });

  // Closed, not always with an error: Node 20 reports a reset that comes after a partial read as
  // an end in most runs (plain `node:net` does the same; only a reset after all the data is read
  // surely gives ECONNRESET), so what is asserted is that it ends with what it read intact.
  it('a connection the peer resets mid-transfer closes, what it read intact, and the others read on unharmed', async () => {
    const q = await tcpQueue();
    const a = record(await nodeRuntime.connect(q.listener.address));
    const aServer = await q.next();
    const b = record(await nodeRuntime.connect(q.listener.address));
    const bServer = record(await q.next());
    cleanup.push(() => (a.conn.close(), b.conn.close(), bServer.conn.close()));
    const aPayload = pattern(2 << 20, 7);
    aServer.write([aPayload]);
    const bPayload = pattern(2 << 20, 8);
    bServer.conn.write([bPayload]);
    await waitFor(() => received(a) > 0, { what: 'a first read on a' });
    socketOf(aServer).resetAndDestroy();
    await a.closed; // it ends (an error or an end: above), and does not hang
    const aRead = Buffer.concat(a.chunks);
    expect(aRead.equals(aPayload.subarray(0, aRead.length))).toBe(true);
    await waitFor(() => received(b) === bPayload.length, { what: 'b\'s bytes' });
    expect(Buffer.concat(b.chunks).equals(bPayload)).toBe(true);
  });

  it('a client that goes idle after a bulk transfer and a read of 4 to 64 KiB holds no read buffer of its own', async () => {
    const q = await tcpQueue();
    const pairs: { client: Recorder; server: ByteConn }[] = [];
    for (let i = 0; i < 3; i++) pairs.push({ client: record(await nodeRuntime.connect(q.listener.address)), server: await q.next() });
    cleanup.push(() => pairs.forEach((p) => (p.client.conn.close(), p.server.close())));
    const bulk = pattern(1 << 20, 9);
    const tail = pattern(10_000, 10);
    for (const p of pairs) p.server.write([bulk]);
    await waitFor(() => pairs.every((p) => received(p.client) === bulk.length), { what: 'the bulk' });
    // Written to an idle reader: one read of 10,000 bytes, the connection's last.
    for (const p of pairs) p.server.write([tail]);
    await waitFor(() => pairs.every((p) => received(p.client) === bulk.length + tail.length), { what: 'the tail' });
    for (const p of pairs) expect(Buffer.concat(p.client.chunks).equals(Buffer.concat([bulk, tail]))).toBe(true);
    // What each socket reads into next (Node's kBuffer): the one shared buffer, the same for all.
    const next = pairs.map((p) => {
      const socket = socketOf(p.client.conn);
      const kBuffer = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'kBuffer')!;
      return (socket as unknown as Record<symbol, Uint8Array>)[kBuffer];
    });
    expect(next[0]).toBeInstanceOf(Uint8Array);
    expect(next[1]).toBe(next[0]);
    expect(next[2]).toBe(next[0]);
  });
});
