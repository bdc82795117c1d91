import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@skein/core';
import { waitFor, cleanups } from '@skein/test-utils';
import { nodeRuntime } from '../src/index.js';
import { bytes, connectPair, listenQueue, record, settle, type AcceptQueue, type Recorder } from './recorder.js';

const cleanup = cleanups();

async function tcpQueue(): Promise<AcceptQueue & { port: number }> {
  const q = await listenQueue({ host: '127.0.0.1', port: 0 });
  cleanup.push(() => q.listener.close());
  return { ...q, port: (q.listener.address as { port: number }).port };
}

/** A plain node:net client: the peer of the ByteConn under test, doing what no ByteConn does. */
async function rawClient(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  cleanup.push(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

describe('ByteConn', () => {
  it('delivers bytes that arrived before bind, on both sides', async () => {
    const q = await tcpQueue();
    const client = await nodeRuntime.connect(q.listener.address);
    const server = await q.next();
    client.write([bytes('early request')]);
    server.write([bytes('early reply')]);
    // Both sides bind a few loop turns later, with the bytes already waiting: none may be lost.
    await settle();
    const serverRec = record(server);
    const clientRec = record(client);
    await serverRec.receives('early request');
    await clientRec.receives('early reply');
    client.close();
    server.close();
  });

  it('reports the peer\'s half-close to the end handler, after its data, and stays writable', async () => {
    const q = await tcpQueue();
    const peer = await rawClient(q.port);
    const reply = collect(peer);
    const server = record(await q.next(), (rec) => {
      rec.conn.write([bytes(`reply to ${rec.text()}`)]);
      rec.conn.end();
    });
    peer.end('last request');
    expect(await reply).toBe('reply to last request');
    expect(await server.closed).toBeUndefined();
    expect(server.ends).toBe(1);
    expect(server.closeCalls).toHaveLength(1);
  });

  it('without an end handler, closes once its pending writes are sent', async () => {
    const q = await tcpQueue();
    const peer = await rawClient(q.port);
    const server = record(await q.next());
    const pending = new Uint8Array(4 << 20).fill(1);
    server.conn.write([pending]);
    peer.end();
    const received = collect(peer);
    expect((await received).length).toBe(pending.length);
    expect(await server.closed).toBeUndefined();
  });

  it('end() half-closes: this side still reads the answer, and both close without error', async () => {
    const q = await tcpQueue();
    const client = record(await nodeRuntime.connect(q.listener.address));
    const server = record(await q.next(), (rec) => {
      rec.conn.write([bytes('reply')]);
      rec.conn.end();
    });
    client.conn.write([bytes('request')]);
    client.conn.end();
    await client.receives('reply');
    expect(server.text()).toBe('request');
    expect(await client.closed).toBeUndefined();
    expect(await server.closed).toBeUndefined();
  });

  it('ignores writes after end() instead of failing the connection', async () => {
    const q = await tcpQueue();
    const { client, server } = await connectPair(q);
    client.conn.end();
    expect(client.conn.write([bytes('too late')])).toBe(true);
    server.conn.end();
    expect(await client.closed).toBeUndefined();
    expect(server.text()).toBe('');
  });

  it('close() reports the close once, without an error, and the peer closes after it', async () => {
    const q = await tcpQueue();
    const { client, server } = await connectPair(q);
    client.conn.close();
    client.conn.close();
    expect(await client.closed).toBeUndefined();
    expect(await server.closed).toBeUndefined();
    await settle();
    expect(client.closeCalls).toEqual([undefined]);
    expect(server.closeCalls).toEqual([undefined]);
  });

  it('reports a reset with its error, once, and raises no error event', async () => {
    const q = await tcpQueue();
    const peer = await rawClient(q.port);
    const server = record(await q.next());
    peer.resetAndDestroy();
    const err = (await server.closed) as NodeJS.ErrnoException;
    expect(err.code).toBe('ECONNRESET');
    await settle();
    expect(server.closeCalls).toHaveLength(1);
  });

  it('reports a close that happened before bind, once bound', async () => {
    const q = await tcpQueue();
    const client = await nodeRuntime.connect(q.listener.address);
    cleanup.push(() => client.close());
    const conn = await q.next();
    conn.close();
    await settle();
    const server = record(conn);
    expect(await server.closed).toBeUndefined();
    await settle();
    expect(server.closeCalls).toHaveLength(1);
  });

  it('returns false from write over the high-water mark, then reports drain', async () => {
    const q = await tcpQueue();
    const { client, server, closeBoth } = await connectPair(q);
    const big = new Uint8Array(4 << 20).fill(7);
    expect(client.conn.write([big])).toBe(false);
    await waitForDrain(client);
    expect(client.drains).toBe(1);
    expect(client.conn.write([bytes('a'), bytes('b')])).toBe(true);
    await waitForBytes(server, big.length + 2);
    closeBoth();
  });

  it('shares its socket listeners with every other connection, and listens for drain only once a write was refused', async () => {
    const q = await tcpQueue();
    const one = await connectPair(q);
    const two = await connectPair(q);
    // The socket is private: reached into here, as the listeners on it are the point.
    const socketOf = (rec: Recorder): net.Socket => (rec.conn as unknown as { socket: net.Socket }).socket;
    const [a, b] = [socketOf(one.server), socketOf(two.server)];
    // Closures per connection cost more than the socket itself at 10,000 idle connections.
    for (const event of ['data', 'end', 'error', 'close']) {
      expect(a.listeners(event).length).toBeGreaterThan(0);
      expect(a.listeners(event)).toEqual(b.listeners(event));
    }
    expect([a.listenerCount('drain'), b.listenerCount('drain')]).toEqual([0, 0]);
    const big = new Uint8Array(4 << 20).fill(7);
    expect(one.server.conn.write([big])).toBe(false);
    expect(one.server.conn.write([big])).toBe(false);
    expect([a.listenerCount('drain'), b.listenerCount('drain')]).toEqual([1, 0]);
    await waitForDrain(one.server);
    expect(one.server.drains).toBe(1);
    one.closeBoth();
    two.closeBoth();
  });

  it('names the peer as host:port, even when first asked after the connection closed', async () => {
    const q = await tcpQueue();
    const peer = await rawClient(q.port);
    const server = record(await q.next());
    const port = peer.localPort;
    peer.destroy();
    await server.closed;
    // Formatted on first use, from what Node read at accept: it forgets the peer once closed.
    expect(server.conn.remote).toBe(`127.0.0.1:${port}`);
  });

  it('closes the connection with the error a data handler throws, and the peer sees it go', async () => {
    const q = await tcpQueue();
    const peer = await rawClient(q.port);
    const peerClosed = new Promise((resolve) => peer.once('end', resolve).once('error', resolve));
    const bug = new Error('handler bug');
    const closed: (Error | undefined)[] = [];
    (await q.next()).bind({
      data: () => {
        throw bug;
      },
      drain: () => {},
      close: (err) => closed.push(err),
    });
    peer.write('boom');
    await peerClosed;
    await settle();
    expect(closed).toEqual([bug]);
  });

  it('refuses a second bind with InvalidArgument', async () => {
    const q = await tcpQueue();
    const { client, closeBoth } = await connectPair(q);
    expect(() => client.conn.bind({ data: () => {}, drain: () => {}, close: () => {} })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }),
    );
    closeBoth();
  });

  it('pause() holds data back until resume()', async () => {
    const q = await tcpQueue();
    const { client, server, closeBoth } = await connectPair(q);
    server.conn.pause();
    client.conn.write([bytes('held')]);
    await settle(20);
    expect(server.text()).toBe('');
    server.conn.resume();
    await server.receives('held');
    closeBoth();
  });

  it('a client\'s pause() holds data back until resume()', async () => {
    const q = await tcpQueue();
    const { client, server, closeBoth } = await connectPair(q);
    client.conn.pause();
    server.conn.write([bytes('held')]);
    await settle(20);
    expect(client.text()).toBe('');
    client.conn.resume();
    await client.receives('held');
    closeBoth();
  });

  // A client reads into one buffer shared by all its sockets (read-buffer.ts): every chunk it hands
  // on must be a copy, or the next read on any connection would overwrite bytes a handler kept.
  it('hands a client the bytes of each read for good: later reads on any connection never change them', async () => {
    const q = await tcpQueue();
    const pairs = [await connectPair(q), await connectPair(q)];
    const kept: { chunk: Uint8Array; copy: Uint8Array }[] = [];
    for (let round = 0; round < 20; round++) {
      for (const [i, { client, server }] of pairs.entries()) {
        const before = client.chunks.length;
        server.conn.write([new Uint8Array(100 + round).fill(round * 2 + i + 1)]);
        await waitFor(() => client.chunks.length > before, { what: `read ${round} on connection ${i}` });
        for (const chunk of client.chunks.slice(before)) kept.push({ chunk, copy: chunk.slice() });
      }
    }
    expect(kept.length).toBeGreaterThanOrEqual(40);
    for (const { chunk, copy } of kept) expect(chunk).toEqual(copy);
    for (const { client } of pairs) expect(client.chunks.every((c) => c.constructor === Uint8Array)).toBe(true);
    for (const p of pairs) p.closeBoth();
  });

  it('delivers a large transfer to a client whole and in order, read by read', async () => {
    const q = await tcpQueue();
    const { client, server, closeBoth } = await connectPair(q);
    const big = new Uint8Array(4 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 16)) & 0xff;
    server.conn.write([big]);
    await waitForBytes(client, big.length);
    expect(client.chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(client.chunks).equals(big)).toBe(true);
    closeBoth();
  });
});

/** Everything `socket` receives until the peer ends. */
function collect(socket: net.Socket): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => socket.once('end', () => resolve(Buffer.concat(chunks).toString('latin1'))));
}

const waitForDrain = (rec: Recorder): Promise<unknown> => waitFor(() => rec.drains > 0, { what: 'drain' });

const waitForBytes = (rec: Recorder, n: number): Promise<unknown> =>
  waitFor(() => rec.chunks.reduce((sum, c) => sum + c.length, 0) === n, { what: `${n} bytes` });
