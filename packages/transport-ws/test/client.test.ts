import net from 'node:net';
import { ErrorCode, FrameError, RpcError } from '@skein/core';
import { deferred, freePort, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { uwsTransport, wsTransport, type StandardWebSocketCtor } from '../src/index.js';
import { bodiesOf, dribble, frame, loopTurn, rawClient, record, spec, startServer, text, until, upgradeAnswer, wsFrameHeader } from './helpers.js';

const cleanup = cleanups();

/** A plain `ws` server that records the messages it receives. */
async function rawServer(): Promise<{ port: number; messages: Uint8Array[] }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  const messages: Uint8Array[] = [];
  wss.on('connection', (ws) => ws.on('message', (data) => messages.push(new Uint8Array(data as Buffer))));
  cleanup.push(() => new Promise((r) => (wss.clients.forEach((c) => c.terminate()), wss.close(r))));
  return { port: (wss.address() as net.AddressInfo).port, messages };
}

/** A plain `ws` server that runs `serve` on each connection and resolves with the close code its peer sent. */
async function closeWatchingServer(serve: (ws: WebSocket) => void): Promise<{ port: number; closeCode: Promise<number> }> {
  const peer = deferred<number>();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  cleanup.push(() => new Promise((r) => wss.close(r)));
  wss.on('connection', (ws) => {
    ws.on('close', (code) => peer.resolve(code));
    serve(ws);
  });
  return { port: (wss.address() as net.AddressInfo).port, closeCode: peer.promise };
}

describe('ws client', () => {
  it('sends 1000 frames written in one synchronous run as one message with batchFrames: Infinity', async () => {
    const s = await rawServer();
    const conn = await wsTransport({ batchFrames: Infinity }).connect({ host: '127.0.0.1', port: s.port }, spec);
    cleanup.push(() => conn.close());
    for (let i = 0; i < 1000; i++) conn.write(frame(`c${i}`));
    await until(() => s.messages.flatMap(bodiesOf).length >= 1000, '1000 frames');
    expect(s.messages).toHaveLength(1);
    expect(s.messages.flatMap(bodiesOf).map(text)).toEqual(Array.from({ length: 1000 }, (_, i) => `c${i}`));
  });

  it('by default sends a long run as messages of 128 frames, in order', async () => {
    const s = await rawServer();
    const conn = await wsTransport().connect({ host: '127.0.0.1', port: s.port }, spec);
    cleanup.push(() => conn.close());
    for (let i = 0; i < 1000; i++) conn.write(frame(`c${i}`));
    await until(() => s.messages.flatMap(bodiesOf).length >= 1000, '1000 frames');
    expect(s.messages.map((m) => bodiesOf(m).length)).toEqual([...Array(7).fill(128), 104]);
    expect(s.messages.flatMap(bodiesOf).map(text)).toEqual(Array.from({ length: 1000 }, (_, i) => `c${i}`));
  });

  it('rejects a batchFrames that is not a positive integer', () => {
    expect(() => wsTransport({ batchFrames: 0 })).toThrow(/batchFrames must be a positive integer/);
  });

  it('cuts a run into messages of at most maxBatchBytes, at frame boundaries', async () => {
    const s = await rawServer();
    const conn = await wsTransport({ maxBatchBytes: 100, batchFrames: Infinity }).connect({ host: '127.0.0.1', port: s.port }, spec);
    cleanup.push(() => conn.close());
    for (let i = 0; i < 10; i++) conn.write(frame(`${i}`.repeat(40)));
    await until(() => s.messages.flatMap(bodiesOf).length >= 10, '10 frames');
    expect(s.messages.map((m) => m.length)).toEqual(Array(5).fill(88));
    expect(s.messages.flatMap(bodiesOf).map(text)).toEqual(Array.from({ length: 10 }, (_, i) => `${i}`.repeat(40)));
  });

  it('refuses the old name batchBytes (renamed maxBatchBytes: it caps a message, sending nothing early) rather than ignore it', () => {
    for (const t of [wsTransport, uwsTransport]) {
      // What a plain-JS caller's options hold: TypeScript no longer takes the old name.
      expect(() => t({ batchBytes: 100 } as never)).toThrow(
        expect.objectContaining({ name: 'RpcError', code: ErrorCode.InvalidArgument, message: 'transport-ws option batchBytes is now maxBatchBytes' }),
      );
    }
  });

  it('counts the bytes it reads as they arrive, in the middle of a message too (FrameConn.receivedBytes)', async () => {
    const s = await closeWatchingServer((ws) => ws.send(new Uint8Array(30_000), { binary: true, fin: false }));
    const conn = await wsTransport().connect({ host: '127.0.0.1', port: s.port }, spec);
    cleanup.push(() => conn.close());
    const r = record(conn);
    // The upgrade's answer is counted too: it came over the same socket.
    await until(() => (conn.receivedBytes ?? 0) >= 30_000, 'the first fragment counted');
    expect(r.bodies).toHaveLength(0);
  });

  it('sends long parts as fragments of one message, not as several messages', async () => {
    const s = await rawServer();
    const conn = await wsTransport().connect({ host: '127.0.0.1', port: s.port }, spec);
    cleanup.push(() => conn.close());
    const big = new Uint8Array(100_000).fill(9);
    conn.write(frame('before'));
    conn.write(frame(big).subarray(0, 4));
    conn.write(big);
    conn.write(frame('after'));
    await until(() => s.messages.length >= 1, 'a message');
    expect(s.messages).toHaveLength(1);
    expect(bodiesOf(s.messages[0]!).map((b) => b.length)).toEqual([6, 100_000, 5]);
  });

  it('reports congested, then drain once the socket has taken the bytes', async () => {
    const s = await startServer(wsTransport());
    cleanup.push(() => s.listener.close());
    const conn = await wsTransport({ highWaterMark: 64 * 1024 }).connect({ host: '127.0.0.1', port: s.port }, spec);
    cleanup.push(() => conn.close());
    const c = record(conn);
    conn.write(frame(new Uint8Array(1024 * 1024)));
    expect(conn.congested).toBe(true);
    await until(() => c.drains === 1, 'drain');
    expect(conn.congested).toBe(false);
    await until(() => s.accepted[0]?.bodies.length === 1, 'the frame');
  });

  it('connects with a timeoutMs past what a timer can hold (2 ** 31 ms)', async () => {
    const s = await startServer(wsTransport(), { echo: true });
    cleanup.push(() => s.listener.close());
    const conn = await wsTransport().connect({ host: '127.0.0.1', port: s.port }, spec, { timeoutMs: 2 ** 31 });
    cleanup.push(() => conn.close());
    const c = record(conn);
    conn.write(frame('in time'));
    await until(() => c.bodies.length === 1, 'echo');
    expect(text(c.bodies[0]!)).toBe('in time');
  });

  it('fails with Unreachable when nothing listens', async () => {
    const port = await freePort();
    const err = await wsTransport()
      .connect({ host: '127.0.0.1', port }, spec)
      .catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.Unreachable)).toBe(true);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('fails with Unreachable when the handshake does not finish in time', async () => {
    // A peer that accepts TCP and never answers the upgrade request.
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => (sockets.forEach((s) => s.destroy()), silent.close(r))));
    const port = (silent.address() as net.AddressInfo).port;
    const err = await wsTransport()
      .connect({ host: '127.0.0.1', port }, spec, { timeoutMs: 200 })
      .catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.Unreachable)).toBe(true);
    expect((err as Error).message).toMatch(/no handshake within 200 ms/);
  });

  /** A hostile server that upgrades by hand, a client connected to it, and the server's socket. */
  async function hostileServer(): Promise<{ c: ReturnType<typeof record>; server: net.Socket }> {
    const peers: net.Socket[] = [];
    const hostile = net.createServer((s) => {
      peers.push(s);
      s.setNoDelay(true);
      s.once('data', (request) => s.write(upgradeAnswer(request.toString('latin1'))));
    });
    await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => (peers.forEach((s) => s.destroy()), hostile.close(r))));
    const conn = await wsTransport().connect({ host: '127.0.0.1', port: (hostile.address() as net.AddressInfo).port }, spec);
    cleanup.push(() => conn.close());
    return { c: record(conn), server: peers[0]! };
  }

  it('drops a server that sends a message in over 16,384 fragments, reporting it as ws refuses it', async () => {
    const { c, server } = await hostileServer();
    const fragment = new Uint8Array([...wsFrameHeader(0, false, 1, false), 0]);
    const thousand = Buffer.concat(Array.from({ length: 1000 }, () => fragment));
    server.write(new Uint8Array([...wsFrameHeader(2, false, 1, false), 0]));
    let sent = 1;
    for (; !c.isClosed && sent < 40_000; sent += 1000) {
      server.write(thousand);
      await loopTurn();
    }
    expect(sent).toBeLessThanOrEqual(17_001);
    const err = await c.closed.promise;
    expect(RpcError.is(err, ErrorCode.IO)).toBe(true);
    expect(err!.message).toMatch(/1008 policy violation.*Too many message fragments/);
  });

  it('drops a server that sends a large frame a byte per read, with a FrameError', async () => {
    const { c, server } = await hostileServer();
    server.write(wsFrameHeader(2, true, 1024 * 1024, false));
    expect(await dribble(server, () => c.isClosed)).toBeLessThan(200);
    const err = await c.closed.promise;
    expect(err).toBeInstanceOf(FrameError);
    expect(err!.message).toMatch(/in \d+ reads, under 256 bytes a read/);
  });

  it('reports a clean close when the server closes the connection', async () => {
    const s = await startServer(wsTransport());
    const conn = await wsTransport().connect({ host: '127.0.0.1', port: s.port }, spec);
    const c = record(conn);
    await until(() => s.accepted.length === 1, 'accept');
    s.accepted[0]!.conn.close();
    await s.listener.close();
    expect(await c.closed.promise).toBeUndefined();
  });
});

describe('standard WebSocket API client', () => {
  // ws's WebSocket implements the standard API (addEventListener, binaryType), so it stands in
  // for the browser / Bun / Deno global here. Like Bun's, it also has pause().
  const Standard = WebSocket as unknown as StandardWebSocketCtor;

  /** ws's client behind the standard API alone, as a browser's or Deno's is: no pause(). */
  const BrowserLike = function (url: string) {
    const ws = new WebSocket(url);
    return {
      get binaryType() {
        return ws.binaryType;
      },
      set binaryType(type: string) {
        ws.binaryType = type as WebSocket['binaryType'];
      },
      get bufferedAmount() {
        return ws.bufferedAmount;
      },
      send: (data: Uint8Array) => ws.send(data),
      close: (code?: number, reason?: string) => ws.close(code, reason),
      addEventListener: (type: 'message', listener: never) => ws.addEventListener(type, listener),
    };
  } as unknown as StandardWebSocketCtor;

  it('round-trips frames', async () => {
    const s = await startServer(wsTransport(), { echo: true });
    cleanup.push(() => s.listener.close());
    const conn = await wsTransport({ WebSocket: Standard }).connect({ host: '127.0.0.1', port: s.port }, spec);
    cleanup.push(() => conn.close());
    const c = record(conn);
    const big = new Uint8Array(50_000).fill(3);
    conn.write(frame('small'));
    conn.write(frame(big).subarray(0, 4));
    conn.write(big);
    await until(() => c.bodies.length === 2, 'echoes');
    expect(text(c.bodies[0]!)).toBe('small');
    expect(Buffer.from(c.bodies[1]!).equals(Buffer.from(big))).toBe(true);
  });

  it('sends its close codes in the private range, where the API allows them', async () => {
    const peer = await closeWatchingServer((ws) => ws.send(Buffer.from([10, 0, 0, 0, 1])));
    const conn = await wsTransport({ WebSocket: Standard }).connect({ host: '127.0.0.1', port: peer.port }, spec);
    const c = record(conn);
    expect(await peer.closeCode).toBe(4007);
    expect(c.isClosed).toBe(true);
  });

  it('without a read pause (browsers, Deno), drops a server that keeps sending while paused, once it holds maxHeldBytes', async () => {
    const body = new Uint8Array(16 * 1024);
    const peer = await closeWatchingServer((ws) => {
      for (let i = 0; i < 16; i++) ws.send(frame(body));
    });
    const conn = await wsTransport({ WebSocket: BrowserLike, maxHeldBytes: 64 * 1024 }).connect({ host: '127.0.0.1', port: peer.port }, spec);
    // Paused at the first frame, and never resumed: everything after it is held.
    const c = record(conn, { frame: () => conn.pause() });
    expect(await peer.closeCode).toBe(4013);
    const err = await c.closed.promise;
    expect(RpcError.is(err, ErrorCode.Overloaded)).toBe(true);
    expect(err!.message).toMatch(/over maxHeldBytes \(65536\)/);
    expect(c.bodies).toHaveLength(1);
  });

  it('applies maxWsMessageBytes: a message over it closes with 1009 (sent as 4009) and FrameTooLarge, as on ws', async () => {
    // Once the client is bound (it asks): one message at the limit, then one a byte over it.
    const peer = await closeWatchingServer((ws) =>
      ws.once('message', () => {
        ws.send(frame(new Uint8Array(1000 - 4)));
        ws.send(frame(new Uint8Array(1001 - 4)));
      }),
    );
    const conn = await wsTransport({ WebSocket: BrowserLike, maxWsMessageBytes: 1000 }).connect({ host: '127.0.0.1', port: peer.port }, spec);
    cleanup.push(() => conn.close());
    const c = record(conn);
    conn.write(frame('go'));
    expect(await peer.closeCode).toBe(4009);
    const err = await c.closed.promise;
    expect(RpcError.is(err, ErrorCode.FrameTooLarge)).toBe(true);
    expect(err!.message).toMatch(/1001 bytes.*maxWsMessageBytes \(1000\)/);
    expect(c.bodies.map((b) => b.length)).toEqual([996]);
  });

  it('reports drain again and again to a writer that refills on drain until congested (no drain event in the API: it is polled)', async () => {
    const s = await startServer(wsTransport());
    cleanup.push(() => s.listener.close());
    const conn = await wsTransport({ WebSocket: BrowserLike, highWaterMark: 64 * 1024 }).connect({ host: '127.0.0.1', port: s.port }, spec);
    cleanup.push(() => conn.close());
    // 16 MiB in 64 KiB frames: far more than kernel buffers take, so the writer is congested many times.
    const total = 256;
    const body = new Uint8Array(64 * 1024 - 4);
    let written = 0;
    const refill = (): void => {
      while (written < total && !conn.congested) {
        conn.write(frame(body));
        conn.flush();
        written++;
      }
    };
    conn.bind({ frame: () => {}, drain: refill, close: () => {} });
    refill();
    await until(() => s.accepted[0]?.bodies.length === total, `all ${total} frames at the server (${written} written)`);
  });

  it('refuses a Unix socket address with InvalidArgument', async () => {
    const err = await wsTransport({ WebSocket: Standard })
      .connect({ path: '/tmp/x.sock' }, spec)
      .catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.InvalidArgument)).toBe(true);
  });
});

describe('ws server keepalive', () => {
  it('terminates a peer that stops answering pings', async () => {
    const s = await startServer(wsTransport({ pingIntervalMs: 50 }));
    cleanup.push(() => s.listener.close());
    const raw = await rawClient(s.url(), { autoPong: false });
    const { code } = await raw.closed.promise;
    expect(code).toBe(1006);
    expect(RpcError.is(await s.accepted[0]!.closed.promise, ErrorCode.Timeout)).toBe(true);
  });

  it('keeps a peer that answers while the server has stopped reading it (paused): its pongs wait unread behind the pause', async () => {
    // The server stops reading after the first frame and never resumes (a handler at its in-flight cap, say).
    const s = await startServer(wsTransport({ pingIntervalMs: 100 }));
    cleanup.push(() => s.listener.close());
    const raw = await rawClient(s.url());
    cleanup.push(() => raw.ws.terminate());
    let pings = 0;
    raw.ws.on('ping', () => pings++);
    await until(() => s.accepted.length === 1, 'accept');
    const server = s.accepted[0]!;
    raw.ws.send(frame('work'));
    await until(() => server.bodies.length === 1, 'the first frame');
    server.conn.pause();
    const from = pings;
    // Each ping the client sees after the pause is a tick that judged it alive; a dropped peer sees none.
    await until(() => pings >= from + 3 || server.isClosed, 'three pings, or the drop');
    expect(server.isClosed).toBe(false);
  });

  it('judges a peer again once the server reads it: one that stopped answering is dropped after the resume', async () => {
    const s = await startServer(wsTransport({ pingIntervalMs: 20 }));
    cleanup.push(() => s.listener.close());
    const raw = await rawClient(s.url(), { autoPong: false });
    cleanup.push(() => raw.ws.terminate());
    await until(() => s.accepted.length === 1, 'accept');
    const server = s.accepted[0]!;
    server.conn.pause();
    let pings = 0;
    raw.ws.on('ping', () => pings++);
    // Not judged while not read: pinged on, never dropped.
    await until(() => pings >= 3 || server.isClosed, 'three pings, or the drop');
    expect(server.isClosed).toBe(false);
    server.conn.resume();
    expect(RpcError.is(await server.closed.promise, ErrorCode.Timeout)).toBe(true);
  });

  it('refuses a pingIntervalMs past what a timer holds (2 ** 31 ms), which a timer would take as 1 ms', () => {
    for (const t of [wsTransport, uwsTransport]) {
      expect(() => t({ pingIntervalMs: 2 ** 31 })).toThrow(/pingIntervalMs must be at most 2147483647 ms/);
    }
    expect(wsTransport({ pingIntervalMs: 2 ** 31 - 1 }).name).toBe('ws');
  });

  it('keeps a peer that answers', async () => {
    // Client and server share this event loop: an interval far above any stall keeps a slow
    // machine from looking like a dead peer.
    const s = await startServer(wsTransport({ pingIntervalMs: 300 }), { echo: true });
    cleanup.push(() => s.listener.close());
    const raw = await rawClient(s.url());
    cleanup.push(() => raw.ws.terminate());
    let pings = 0;
    raw.ws.on('ping', () => pings++);
    await until(() => pings >= 3, 'three pings');
    raw.ws.send(frame('alive'));
    await until(() => raw.messages.length === 1, 'echo');
    expect(s.accepted[0]!.isClosed).toBe(false);
  });
});
