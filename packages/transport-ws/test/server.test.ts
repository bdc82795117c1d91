import { ErrorCode, FrameError, RpcError, type FrameSpec, type Transport } from '@skein/core';
import { handleCounts, leakedHandles, portOf, sleep, tmpSocketPath, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { CloseCode, uwsTransport, wsTransport, type WsTransportOptions } from '../src/index.js';
import { CLOSE_LINGER_MS } from '../src/close-linger.js';
import { bodiesOf, dribble, frame, header, loopTurn, onBody, randomBytes, rawClient, rawWsPeer, record, spec, startServer, text, until, wsFrameHeader, type RawPeer, type Recorder } from './helpers.js';

/**
 * The server contract, on each server. `tooBigCode` is what a peer sees when its message is
 * over the limit: ws sends a 1009 close frame; uWebSockets.js drops the socket without one.
 * `pausesReading`: ws stops reading a paused connection; uWebSockets.js cannot.
 */
const servers: [string, (o?: WsTransportOptions) => Transport, number, boolean][] = [
  ['ws', wsTransport, CloseCode.TooBig, true],
  ['uWebSockets.js', uwsTransport, CloseCode.Abnormal, false],
];

/** The tests' spec, except that a 13-byte body is refused with last words. */
const picky: FrameSpec = {
  headerLength: 4,
  bodyLength(bytes, at) {
    const n = spec.bodyLength(bytes, at);
    if (n === 13) throw new FrameError('unlucky', frame('bye'));
    return n;
  },
};

const cleanup = cleanups();

describe.each(servers)('%s server', (_name, transport, tooBigCode, pausesReading) => {
  async function serve(options: WsTransportOptions = {}, opts: { echo?: boolean } = { echo: true }) {
    const s = await startServer(transport(options), opts);
    cleanup.push(() => s.listener.close());
    return s;
  }

  async function client(port: number, options: WsTransportOptions = {}): Promise<Recorder> {
    const conn = await wsTransport(options).connect({ host: '127.0.0.1', port }, spec);
    cleanup.push(() => conn.close());
    return record(conn);
  }

  /** A server (maxHeldBytes 64 KiB) whose connection pauses at its first frame and never resumes, and a peer. */
  async function pausedAtFirstFrame(): Promise<{ paused: () => Recorder; raw: RawPeer }> {
    let paused: Recorder | undefined;
    const listener = await transport({ maxHeldBytes: 64 * 1024 }).listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => {
      paused = record(conn, { frame: () => conn.pause() });
    });
    cleanup.push(() => listener.close());
    const raw = await rawClient(`ws://127.0.0.1:${(listener.address as { port: number }).port}/skein`);
    cleanup.push(() => raw.ws.terminate());
    return { paused: () => paused!, raw };
  }

  it('round-trips many frames both ways, in order and byte-exact', async () => {
    const { port } = await serve();
    const c = await client(port);
    const sent = Array.from({ length: 500 }, (_, i) => randomBytes((i * 37) % 300));
    for (let i = 0; i < sent.length; i++) {
      c.conn.write(frame(sent[i]!));
      // Several runs, so the frames travel in several messages.
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    await until(() => c.bodies.length === sent.length, 'all echoes');
    c.bodies.forEach((b, i) => expect(Buffer.from(b).equals(Buffer.from(sent[i]!))).toBe(true));
  });

  it('sends 1000 frames written in one synchronous run as one WebSocket message (batchFrames: Infinity)', async () => {
    const s = await serve({ batchFrames: Infinity }, { echo: false });
    const raw = await rawClient(s.url());
    cleanup.push(() => raw.ws.terminate());
    await until(() => s.accepted.length === 1, 'accept');
    for (let i = 0; i < 1000; i++) s.accepted[0]!.conn.write(frame(`n${i}`));
    await until(() => raw.messages.flatMap(bodiesOf).length >= 1000, '1000 frames');
    expect(raw.messages).toHaveLength(1);
    expect(raw.messages.flatMap(bodiesOf).map(text)).toEqual(Array.from({ length: 1000 }, (_, i) => `n${i}`));
  });

  it('sends a long run as messages of batchFrames frames while it is being written', async () => {
    const s = await serve({ batchFrames: 100 }, { echo: false });
    const raw = await rawClient(s.url());
    cleanup.push(() => raw.ws.terminate());
    await until(() => s.accepted.length === 1, 'accept');
    for (let i = 0; i < 1000; i++) s.accepted[0]!.conn.write(frame(`n${i}`));
    await until(() => raw.messages.flatMap(bodiesOf).length >= 1000, '1000 frames');
    expect(raw.messages.map((m) => bodiesOf(m).length)).toEqual(Array(10).fill(100));
    expect(raw.messages.flatMap(bodiesOf).map(text)).toEqual(Array.from({ length: 1000 }, (_, i) => `n${i}`));
  });

  it('with deferFlush, frames written one await apart share messages (batchFrames each), not one message each', async () => {
    const s = await serve({ batchFrames: 100 }, { echo: false });
    const raw = await rawClient(s.url());
    cleanup.push(() => raw.ws.terminate());
    await until(() => s.accepted.length === 1, 'accept');
    const conn = s.accepted[0]!.conn;
    for (let i = 0; i < 1000; i++) {
      conn.write(frame(`n${i}`));
      conn.deferFlush!();
      await Promise.resolve();
    }
    await until(() => raw.messages.flatMap(bodiesOf).length >= 1000, '1000 frames');
    expect(raw.messages.map((m) => bodiesOf(m).length)).toEqual(Array(10).fill(100));
    expect(raw.messages.flatMap(bodiesOf).map(text)).toEqual(Array.from({ length: 1000 }, (_, i) => `n${i}`));
  });

  it('closes a connection whose message ends mid-frame with 1007, and only that one', async () => {
    const s = await serve();
    const bad = await rawClient(s.url());
    const good = await client(s.port);
    await until(() => s.accepted.length === 2, 'two accepts');
    bad.ws.send(Buffer.concat([header(10), Buffer.from('abc')]));
    expect((await bad.closed.promise).code).toBe(CloseCode.BadFrame);
    const serverSide = s.accepted.find((r) => r.isClosed);
    expect(await serverSide?.closed.promise).toBeInstanceOf(FrameError);
    good.conn.write(frame('still here'));
    await until(() => good.bodies.length === 1, 'echo on the other connection');
    expect(text(good.bodies[0]!)).toBe('still here');
  });

  it('answers the whole frames of a message that ends mid-frame before it closes with 1007, as TCP does for a FrameError', async () => {
    // The echoes of the frames before the broken one were written, then dropped with the batch
    // as the connection failed: the peer got only the close (a hello and a ping, unanswered).
    const s = await serve();
    const raw = await rawClient(s.url());
    raw.ws.send(Buffer.concat([frame('one'), frame('two'), header(10), Buffer.from('abc')]));
    expect((await raw.closed.promise).code).toBe(CloseCode.BadFrame);
    expect(raw.messages.flatMap(bodiesOf).map(text)).toEqual(['one', 'two']);
    expect(s.accepted[0]!.bodies.map(text)).toEqual(['one', 'two']);
    expect(await s.accepted[0]!.closed.promise).toBeInstanceOf(FrameError);
  });

  it('closes with 1003 on a text message', async () => {
    const s = await serve();
    const raw = await rawClient(s.url());
    raw.ws.send('hello');
    expect((await raw.closed.promise).code).toBe(CloseCode.UnsupportedData);
  });

  it(`closes a connection whose message is over maxWsMessageBytes (peer sees ${tooBigCode})`, async () => {
    const s = await serve({ maxWsMessageBytes: 1024 });
    const raw = await rawClient(s.url());
    await until(() => s.accepted.length === 1, 'accept');
    raw.ws.send(frame(new Uint8Array(2048)));
    expect((await raw.closed.promise).code).toBe(tooBigCode);
    const err = await s.accepted[0]!.closed.promise;
    expect(RpcError.is(err, ErrorCode.FrameTooLarge)).toBe(true);
  });

  it('sends a FrameError’s last words before closing', async () => {
    const listener = await transport().listen({ host: '127.0.0.1', port: 0 }, picky, (conn) => void record(conn));
    cleanup.push(() => listener.close());
    const raw = await rawClient(`ws://127.0.0.1:${(listener.address as { port: number }).port}/skein`);
    raw.ws.send(frame('x'.repeat(13)));
    expect((await raw.closed.promise).code).toBe(CloseCode.BadFrame);
    expect(raw.messages.flatMap(bodiesOf).map(text)).toEqual(['bye']);
  });

  it('reads by the spec setFrameSpec gives from the next header on, and keeps sending by the first', async () => {
    let rec!: Recorder;
    const listener = await transport().listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => {
      conn.setFrameSpec!(picky);
      rec = record(conn, { frame: (body) => conn.write(frame(body)) });
    });
    cleanup.push(() => listener.close());
    const raw = await rawClient(`ws://127.0.0.1:${(listener.address as { port: number }).port}/skein`);
    // The listener's spec takes a 13-byte body; the one given at accept refuses it, with last words.
    raw.ws.send(Buffer.concat([frame('ok'), frame('x'.repeat(13))]));
    await until(() => rec?.isClosed || rec?.bodies.length === 2, 'the second frame refused or read');
    expect(rec.bodies.map(text)).toEqual(['ok']);
    expect((await rec.closed.promise)?.message).toBe('unlucky');
    expect((await raw.closed.promise).code).toBe(CloseCode.BadFrame);
    expect(raw.messages.flatMap(bodiesOf).map(text)).toEqual(['ok', 'bye']);
  });

  it('sends the whole frames written before an outgoing header its spec rejects, then the last words, and closes', async () => {
    const { port, accepted } = await serve({}, { echo: false });
    const conn = await wsTransport().connect({ host: '127.0.0.1', port }, picky);
    cleanup.push(() => conn.close());
    const c = record(conn);
    // One part: a whole frame, then a frame whose header the spec refuses.
    expect(() => conn.write(Buffer.concat([frame('ok'), frame('x'.repeat(13))]))).toThrow(FrameError);
    expect((await c.closed.promise)?.message).toBe('unlucky');
    await until(() => accepted[0]?.bodies.length === 2, 'the frame before the bad one, and the last words');
    expect(accepted[0]!.bodies.map(text)).toEqual(['ok', 'bye']);
  });

  it('lets the upgrade hook refuse with 401 and accept on the right header', async () => {
    const { port } = await serve({ upgrade: async (req) => req.headers['x-token'] === 'sesame' });
    const refused = await wsTransport()
      .connect({ host: '127.0.0.1', port }, spec)
      .catch((e: unknown) => e);
    expect(RpcError.is(refused, ErrorCode.Unauthenticated)).toBe(true);
    expect((refused as Error).message).toMatch(/401/);
    const c = await client(port, { headers: { 'x-token': 'sesame' } });
    c.conn.write(frame('let in'));
    await until(() => c.bodies.length === 1, 'echo');
  });

  // Only a literal true lets a connection in; a hook that fails is the server's fault (500, not 401).
  it('answers 401 to a hook that answers anything but true, and 500 to one that throws', async () => {
    const { port } = await serve({
      upgrade: (req) => (req.headers['x-token'] === 'boom' ? Promise.reject(new Error('auth store down')) : ('yes' as unknown as boolean)),
    });
    const refused = await wsTransport().connect({ host: '127.0.0.1', port }, spec).catch((e: unknown) => e);
    expect(RpcError.is(refused, ErrorCode.Unauthenticated)).toBe(true);
    expect((refused as Error).message).toMatch(/HTTP 401/);
    const failed = await wsTransport({ headers: { 'x-token': 'boom' } })
      .connect({ host: '127.0.0.1', port }, spec)
      .catch((e: unknown) => e);
    expect(RpcError.is(failed, ErrorCode.Unreachable)).toBe(true);
    expect((failed as Error).message).toMatch(/answered HTTP 500 instead of upgrading/);
  });

  it('shows the hook the query, so browsers can authenticate without headers', async () => {
    const urls: string[] = [];
    const { port } = await serve({ upgrade: (req) => (urls.push(req.url), req.url.endsWith('token=abc')) });
    await client(port, { path: '/skein?token=abc' });
    expect(urls).toEqual(['/skein?token=abc']);
  });

  it("names the URL without its query when the upgrade is refused: the page's token stays out of the error", async () => {
    const { port } = await serve({ upgrade: () => false });
    const refused = await wsTransport({ path: '/skein?token=s3cret' })
      .connect({ host: '127.0.0.1', port }, spec)
      .catch((e: unknown) => e);
    expect(RpcError.is(refused, ErrorCode.Unauthenticated)).toBe(true);
    expect((refused as Error).message).toBe(`ws://127.0.0.1:${port}/skein?… refused the connection: HTTP 401`);
  });

  it('answers 404 on another path', async () => {
    const { port } = await serve();
    const err = await wsTransport({ path: '/elsewhere' })
      .connect({ host: '127.0.0.1', port }, spec)
      .catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.Unreachable)).toBe(true);
    expect((err as Error).message).toMatch(/404/);
    // The likely cause named: the path (`ws://h:1/` and `ws://h:1?q` dial `/`, not the default).
    expect((err as Error).message).toMatch(/no Skein endpoint on that path\? a server's default path is \/skein, which an address with no path dials/);
  });

  it('carries an 8 MiB frame byte-exact, both ways', async () => {
    const { port } = await serve();
    const c = await client(port);
    const big = randomBytes(8 * 1024 * 1024);
    c.conn.write(header(big.length));
    c.conn.write(big);
    await until(() => c.bodies.length === 1, 'the echo');
    expect(Buffer.from(c.bodies[0]!).equals(Buffer.from(big))).toBe(true);
  });

  it('holds frames while paused and delivers the rest, in order, on resume', async () => {
    let atResume = -1;
    const got: string[] = [];
    const listener = await transport().listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => {
      conn.bind({
        frame: onBody((body) => {
          got.push(text(body));
          if (got.length !== 10) return;
          conn.pause();
          setImmediate(() => ((atResume = got.length), conn.resume()));
        }),
        drain: () => {},
        close: () => {},
      });
    });
    cleanup.push(() => listener.close());
    const raw = await rawClient(`ws://127.0.0.1:${(listener.address as { port: number }).port}/skein`);
    cleanup.push(() => raw.ws.terminate());
    raw.ws.send(Buffer.concat(Array.from({ length: 100 }, (_, i) => frame(`${i}`))));
    await until(() => got.length === 100, '100 frames');
    expect(atResume).toBe(10);
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => `${i}`));
  });

  it.skipIf(pausesReading)(
    `drops a peer that keeps sending while paused once it holds maxHeldBytes, with 1013${pausesReading ? ' (skipped: this server stops reading a paused connection, so it never holds what a peer sends)' : ''}`,
    async () => {
    const { paused, raw } = await pausedAtFirstFrame();
    const body = new Uint8Array(16 * 1024);
    for (let i = 0; i < 16; i++) raw.ws.send(frame(body));
    expect((await raw.closed.promise).code).toBe(CloseCode.TryAgainLater);
    const err = await paused().closed.promise;
    expect(RpcError.is(err, ErrorCode.Overloaded)).toBe(true);
    expect(err!.message).toMatch(/over maxHeldBytes \(65536\)/);
    expect(paused().bodies).toHaveLength(1);
    },
  );

  it.skipIf(pausesReading)(
    `counts ~200 B a held message besides its bytes: a paused connection drops a peer sending tiny messages long before it holds 50 times maxHeldBytes${pausesReading ? ' (skipped: this server stops reading a paused connection)' : ''}`,
    async () => {
    const { paused, raw } = await pausedAtFirstFrame();
    // 1,000 messages of one empty frame: 4 KB of bytes, some 200 KB of memory held.
    const tiny = frame('');
    for (let i = 0; i < 1000; i++) raw.ws.send(tiny);
    expect((await raw.closed.promise).code).toBe(CloseCode.TryAgainLater);
    const err = await paused().closed.promise;
    expect(RpcError.is(err, ErrorCode.Overloaded)).toBe(true);
    expect(err!.message).toMatch(/counting 200 a message besides its bytes\), over maxHeldBytes \(65536\)/);
    },
  );

  it.skipIf(pausesReading)(
    `does not count the message being read against maxHeldBytes: paused partway into a message of maxHeldBytes, it holds the next${pausesReading ? ' (skipped: this server stops reading a paused connection)' : ''}`,
    async () => {
    let first: Recorder | undefined;
    let pausedOnce = false;
    const listener = await transport({ maxHeldBytes: 64 * 1024 }).listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => {
      first = record(conn, { frame: () => pausedOnce || ((pausedOnce = true), conn.pause()) });
    });
    cleanup.push(() => listener.close());
    const raw = await rawClient(`ws://127.0.0.1:${(listener.address as { port: number }).port}/skein`);
    cleanup.push(() => raw.ws.terminate());
    // One message of 8 frames, ~64 KiB: read up to its first, where the conn pauses (the server's
    // yield does so every 64 frames). Counted whole, the next message went over: 1013.
    const body = new Uint8Array(8 * 1024 - 8);
    raw.ws.send(Buffer.concat(Array.from({ length: 8 }, () => frame(body))));
    raw.ws.send(frame(new Uint8Array(32 * 1024)));
    // The server's answer to a ping sent after both: both have been read (held) by then.
    const pong = new Promise<void>((resolve) => raw.ws.once('pong', () => resolve()));
    raw.ws.ping();
    await pong;
    await until(() => first?.bodies.length === 1, 'the first frame');
    expect(first!.isClosed).toBe(false);
    first!.conn.resume();
    await until(() => first!.bodies.length === 9, 'every frame, after the resume');
    expect(first!.isClosed).toBe(false);
    },
  );

  it('drops a peer that pings and never reads, before the answers it leaves unread pass highWaterMark + maxHeldBytes', async () => {
    const s = await serve({ highWaterMark: 64 * 1024, maxHeldBytes: 64 * 1024 }, { echo: false });
    const raw = await rawClient(s.url());
    cleanup.push(() => raw.ws.terminate());
    await until(() => s.accepted.length === 1, 'accept');
    const server = s.accepted[0]!;
    // The peer reads nothing from now on, and pings: up to 64 MiB, far more than kernel buffers take.
    (raw.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const ping = new Uint8Array(125);
    for (let i = 0; i < 512 && !server.isClosed; i++) {
      for (let j = 0; j < 1000; j++) raw.ws.ping(ping);
      await until(() => raw.ws.bufferedAmount < 1024 * 1024 || server.isClosed, 'the pings sent');
    }
    const err = await server.closed.promise;
    // ws drops it on its own past 60 pongs not yet written (maxPendingAutoPongs), saying nothing
    // why (1006); uWS would queue pongs without end, so the conn counts them.
    if (_name === 'ws') return void expect(RpcError.is(err, ErrorCode.IO)).toBe(true);
    expect(RpcError.is(err, ErrorCode.Overloaded)).toBe(true);
    expect(err!.message).toMatch(/answers to its pings unread, over maxHeldBytes \(65536\)/);
  });

  it('reports congested, then drain, and loses nothing sent while congested', async () => {
    const s = await serve({ highWaterMark: 64 * 1024 }, { echo: false });
    const c = await client(s.port);
    await until(() => s.accepted.length === 1, 'accept');
    const server = s.accepted[0]!;
    server.conn.write(frame(new Uint8Array(4 * 1024 * 1024).fill(1)));
    server.conn.flush();
    // Sent while the first is still buffered: uWS would drop it over its maxBackpressure.
    server.conn.write(frame(new Uint8Array(4 * 1024 * 1024).fill(2)));
    expect(server.conn.congested).toBe(true);
    await until(() => server.drains === 1, 'drain');
    expect(server.conn.congested).toBe(false);
    await until(() => c.bodies.length === 2, 'both frames');
    expect(c.bodies.map((b) => b[0])).toEqual([1, 2]);
  });

  it('reports drain when only queued bytes made it congested and the flush hands them all to the socket', async () => {
    const s = await serve({ highWaterMark: 64 * 1024 }, { echo: false });
    const c = await client(s.port);
    await until(() => s.accepted.length === 1, 'accept');
    const server = s.accepted[0]!;
    // Over the mark while queued in the batcher; small enough for the socket to take at once,
    // so uWS never sees backpressure and never fires its own drain.
    server.conn.write(frame(new Uint8Array(128 * 1024).fill(5)));
    expect(server.conn.congested).toBe(true);
    server.conn.flush();
    // Never reported from inside flush: the handler may write again.
    expect(server.drains).toBe(0);
    await until(() => c.bodies.length === 1, 'the frame');
    await waitFor(() => server.drains === 1, { timeoutMs: 2000, what: 'drain' });
    expect(server.conn.congested).toBe(false);
  });

  it('half-closes: the server still answers after the client ended, then both close cleanly', async () => {
    const answered: Recorder[] = [];
    const listener = await transport().listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => {
      answered.push(record(conn, { end: () => (conn.write(frame('late answer')), conn.end()) }));
    });
    cleanup.push(() => listener.close());
    const c = await client((listener.address as { port: number }).port);
    c.conn.write(frame('question'));
    c.conn.end();
    expect(await c.closed.promise).toBeUndefined();
    expect(c.bodies.map(text)).toEqual(['late answer']);
    expect(answered[0]!.ends).toBe(1);
    expect(answered[0]!.bodies.map(text)).toEqual(['question']);
    expect(await answered[0]!.closed.promise).toBeUndefined();
  });

  it('ends its side too when the peer ends and there is no end handler', async () => {
    const s = await serve({}, { echo: false });
    const c = await client(s.port);
    c.conn.end();
    expect(await c.closed.promise).toBeUndefined();
    expect(await s.accepted[0]!.closed.promise).toBeUndefined();
  });

  it('serves a Unix socket', async () => {
    const path = tmpSocketPath('skein-ws');
    const accepted: Recorder[] = [];
    const listener = await transport().listen({ path }, spec, (conn) => {
      accepted.push(record(conn, { frame: (body) => conn.write(frame(body)) }));
    });
    cleanup.push(() => listener.close());
    const conn = await wsTransport().connect({ path }, spec);
    cleanup.push(() => conn.close());
    const c = record(conn);
    conn.write(frame('over unix'));
    await until(() => c.bodies.length === 1, 'echo');
    expect(text(c.bodies[0]!)).toBe('over unix');
  });

  it('leaves no handles once the connections and the listener are closed', async () => {
    const before = handleCounts();
    const s = await startServer(transport(), { echo: true });
    const c = record(await wsTransport().connect({ host: '127.0.0.1', port: s.port }, spec));
    c.conn.write(frame('ping'));
    await until(() => c.bodies.length === 1, 'echo');
    c.conn.close();
    await s.accepted[0]!.closed.promise;
    await s.listener.close();
    await waitFor(() => Object.keys(leakedHandles(before)).length === 0, {
      timeoutMs: 20_000,
      what: `no leaked handles (now ${JSON.stringify(leakedHandles(before))})`,
    });
  });
});

describe('ws server: a connection is handed over at TCP accept, before its upgrade', () => {
  async function listen(options: WsTransportOptions, accept: (conn: import('@skein/core').FrameConn) => void) {
    const listener = await wsTransport(options).listen({ host: '127.0.0.1', port: 0 }, spec, accept);
    cleanup.push(() => listener.close());
    return portOf(listener.address);
  }

  it('sends what was written before the upgrade once it is done, first and in order', async () => {
    const port = await listen({}, (conn) => {
      record(conn);
      // accept runs at TCP accept: there is no WebSocket yet.
      conn.write(frame('one'));
      conn.flush();
      conn.write(frame('two'));
      conn.flush();
    });
    const raw = await rawClient(`ws://127.0.0.1:${port}/skein`);
    await until(() => raw.messages.length === 2, 'the two early messages');
    expect(raw.messages.map((m) => bodiesOf(m).map(text))).toEqual([['one'], ['two']]);
  });

  it('closes a connection accept closes before any HTTP work: the client cannot connect', async () => {
    const port = await listen({}, (conn) => conn.close());
    const err = await wsTransport().connect({ host: '127.0.0.1', port }, spec, { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Unreachable });
  });

  it('refuses an upgradeTimeoutMs that is not a positive integer', () => {
    expect(() => wsTransport({ upgradeTimeoutMs: 0 })).toThrow(/upgradeTimeoutMs/);
    // A timer takes a longer delay as 1 ms: every upgrade would time out at once.
    expect(() => wsTransport({ upgradeTimeoutMs: 2 ** 31 })).toThrow(/upgradeTimeoutMs must be at most 2147483647 ms/);
    expect(wsTransport({ upgradeTimeoutMs: 2 ** 31 - 1 }).name).toBe('ws');
  });
});

describe('ws server: a peer that dribbles a frame', () => {
  async function serve(options: WsTransportOptions = {}) {
    const s = await startServer(wsTransport({ pingIntervalMs: 0, ...options }), { echo: true });
    cleanup.push(() => s.listener.close());
    return s;
  }

  /** An echo server and a peer that upgraded by hand, once the server has accepted it. */
  async function servedPeer(options: WsTransportOptions = {}) {
    const s = await serve(options);
    const raw = await rawWsPeer(s.port);
    cleanup.push(() => raw.destroy());
    await until(() => s.accepted.length === 1, 'accept');
    return { s, raw };
  }

  it('drops a peer that sends a large frame a byte per read (ws would hold ~200 B of heap per byte), and only it', async () => {
    const s = await serve();
    const neighbour = await wsTransport().connect({ host: '127.0.0.1', port: s.port }, spec);
    cleanup.push(() => neighbour.close());
    const n = record(neighbour);
    const raw = await rawWsPeer(s.port);
    cleanup.push(() => raw.destroy());
    await until(() => s.accepted.length === 2, 'accept');
    const dribbler = s.accepted[1]!;
    raw.write(wsFrameHeader(2, true, 1024 * 1024, true));
    // Dropped after its 64 free reads, not after ws's own cap of 262,144.
    expect(await dribble(raw.socket, () => dribbler.isClosed)).toBeLessThan(200);
    const err = await dribbler.closed.promise;
    expect(err).toBeInstanceOf(FrameError);
    expect(err!.message).toMatch(/in \d+ reads, under 256 bytes a read/);
    expect(await raw.closedByPeer).toBeDefined();
    neighbour.write(frame('still here'));
    await until(() => n.bodies.length === 1, 'the neighbour echoed');
    expect(text(n.bodies[0]!)).toBe('still here');
  });

  it('takes a frame that arrives in reads of a few hundred bytes, as a slow network delivers it', async () => {
    const s = await serve();
    const raw = await rawWsPeer(s.port);
    cleanup.push(() => raw.destroy());
    const body = randomBytes(128 * 1024 - 4);
    const message = frame(body);
    raw.write(wsFrameHeader(2, true, message.length, true));
    for (let at = 0; at < message.length; at += 300) {
      raw.write(message.subarray(at, at + 300));
      await loopTurn();
    }
    await until(() => s.accepted[0]?.bodies.length === 1, 'the frame');
    expect(Buffer.from(s.accepted[0]!.bodies[0]!).equals(Buffer.from(body))).toBe(true);
    expect(s.accepted[0]!.isClosed).toBe(false);
  });

  it('keeps a peer that sends only pings, a read each, however many', async () => {
    const { s, raw } = await servedPeer();
    const answered = raw.received().length;
    for (let i = 0; i < 200; i++) {
      raw.write(wsFrameHeader(0x09, true, 0, true));
      await loopTurn();
    }
    // 200 pongs of 2 bytes each, and the connection still up.
    await until(() => raw.received().length - answered === 400, 'the pongs');
    expect(s.accepted[0]!.isClosed).toBe(false);
  });

  it('drops a peer that sends one-byte fragments a read each, though it sends a pong between them', async () => {
    const { s, raw } = await servedPeer();
    const server = s.accepted[0]!;
    const pong = wsFrameHeader(0x0a, true, 0, true);
    const fragment = new Uint8Array([...wsFrameHeader(0, false, 1, true), 0]);
    raw.write(new Uint8Array([...wsFrameHeader(2, false, 1, true), 0]));
    let fragments = 1;
    for (; !server.isClosed && fragments < 2_000; fragments++) {
      raw.write(pong);
      await loopTurn();
      raw.write(fragment);
      await loopTurn();
    }
    // A pong between fragments does not start the count again: not ws's 16,384 fragments.
    expect(fragments).toBeLessThan(200);
    const err = await server.closed.promise;
    expect(err).toBeInstanceOf(FrameError);
    expect(err!.message).toMatch(/under 256 bytes a read/);
  });

  it('drops a peer that sends a message in one-byte fragments (~130 B of heap each) once it has sent 16,384 of them', async () => {
    const { s, raw } = await servedPeer();
    const fragment = new Uint8Array([...wsFrameHeader(0, false, 1, true), 0]);
    const thousand = new Uint8Array(fragment.length * 1000);
    for (let i = 0; i < 1000; i++) thousand.set(fragment, i * fragment.length);
    raw.write(new Uint8Array([...wsFrameHeader(2, false, 1, true), 0]));
    let sent = 1;
    while (!s.accepted[0]!.isClosed && sent < 40_000) {
      raw.write(thousand);
      sent += 1000;
      await loopTurn();
    }
    // Reported as ws refuses the fragment past its cap, not when ws's close handshake times out.
    expect(sent).toBeLessThanOrEqual(17_001);
    const err = await s.accepted[0]!.closed.promise;
    expect(RpcError.is(err, ErrorCode.IO)).toBe(true);
    expect(err!.message).toMatch(/1008 policy violation.*Too many message fragments/);
    // The peer never answers the close frame: its socket is dropped after the linger.
    expect(await raw.closedByPeer).toBeDefined();
  });

  it('reports a peer whose header claims a message over maxWsMessageBytes at once, and drops it though it never answers the close', async () => {
    const { s, raw } = await servedPeer();
    raw.write(wsFrameHeader(2, true, 2 ** 40, true));
    const err = await s.accepted[0]!.closed.promise;
    expect(RpcError.is(err, ErrorCode.FrameTooLarge)).toBe(true);
    expect(err!.message).toMatch(/1009 message too big.*Max payload size exceeded/);
    // ws's close frame (1009) reached the peer, then the socket was dropped.
    expect(await raw.closedByPeer).toBeDefined();
    expect([...raw.received().subarray(-4, -2)]).toEqual([0x88, 2]);
    expect(raw.received().readUInt16BE(raw.received().length - 2)).toBe(CloseCode.TooBig);
    // Then dropped, not left half-open for ws's 30 s close timeout: what it still sends meets a reset.
    await until(() => (raw.write(new Uint8Array(1)), raw.socket.destroyed), 'the socket reset');
  });

  it('is midFrame while part of a message has arrived and nothing more of it since the last look, also between its fragments: the server times a stall, not a slow link', async () => {
    const { s, raw } = await servedPeer();
    const server = s.accepted[0]!;
    /** What the server's tick reads: one look, then another with no byte between them. */
    const looks = (): (boolean | undefined)[] => [server.conn.midFrame, server.conn.midFrame];
    expect(looks()).toEqual([false, false]);
    const message = frame(randomBytes(1000));
    raw.write(wsFrameHeader(2, true, message.length, true).subarray(0, 1));
    await until(() => server.conn.midFrame, 'stalled mid-message after a header byte');
    // More bytes of the message: progress, so the first look after them is no stall (a message
    // of many whole frames may take long on a slow link); the next, with nothing new, is one.
    raw.write(wsFrameHeader(2, true, message.length, true).subarray(1));
    raw.write(message.subarray(0, 10));
    await loopTurn();
    expect(looks()).toEqual([false, true]);
    raw.write(message.subarray(10));
    await until(() => server.bodies.length === 1, 'the frame');
    expect(looks()).toEqual([false, false]);
    // A message in two fragments: whole fragments held, the message not yet.
    raw.write(new Uint8Array([...wsFrameHeader(2, false, 500, true), ...message.subarray(0, 500)]));
    await loopTurn();
    expect(looks()).toEqual([false, true]);
    raw.write(new Uint8Array([...wsFrameHeader(0, true, message.length - 500, true), ...message.subarray(500)]));
    await until(() => server.bodies.length === 2, 'the fragmented frame');
    expect(looks()).toEqual([false, false]);
  });

  it('is midFrame when only control frames came since the last look: pings between fragments are no progress on the message (they would hold it half sent past the read timeout)', async () => {
    const { s, raw } = await servedPeer();
    const server = s.accepted[0]!;
    const message = frame(randomBytes(1000));
    raw.write(new Uint8Array([...wsFrameHeader(2, false, 500, true), ...message.subarray(0, 500)]));
    await until(() => server.conn.midFrame, 'stalled between fragments');
    // Two pings of 125 bytes in one read (262 bytes: past ChunkGuard's average), each answered.
    const ping = new Uint8Array([...wsFrameHeader(9, true, 125, true), ...new Uint8Array(125)]);
    const answered = (pongs: number, from: number) => () => raw.received().length >= from + pongs * 127;
    let base = raw.received().length;
    raw.write(new Uint8Array([...ping, ...ping]));
    await until(answered(2, base), 'the pongs');
    expect(server.conn.midFrame).toBe(true);
    // A ping split across looks: its first part is no progress either.
    base = raw.received().length;
    raw.write(ping.subarray(0, 60));
    await loopTurn();
    expect(server.conn.midFrame).toBe(true);
    raw.write(ping.subarray(60));
    await until(answered(1, base), 'the pong');
    expect(server.conn.midFrame).toBe(true);
    // Bytes of the message are progress, also in a fragment whose header alone came before.
    const last = wsFrameHeader(0, true, message.length - 500, true);
    raw.write(last);
    await loopTurn();
    expect(server.conn.midFrame).toBe(true);
    raw.write(message.subarray(500, 510));
    await until(() => !server.conn.midFrame, 'progress seen');
    expect(server.conn.midFrame).toBe(true);
    raw.write(message.subarray(510));
    await until(() => server.bodies.length === 1, 'the message');
    expect(server.conn.midFrame).toBe(false);
  });

  it('refuses a compressed frame (permessage-deflate is never agreed) at once with 1002, typed', async () => {
    const { s, raw } = await servedPeer();
    const h = wsFrameHeader(2, true, 1, true);
    h[0]! |= 0x40; // RSV1: a compressed message
    raw.write(new Uint8Array([...h, 0]));
    const err = await s.accepted[0]!.closed.promise;
    expect(RpcError.is(err, ErrorCode.IO)).toBe(true);
    expect(err!.message).toMatch(/1002 protocol error.*RSV1 must be clear/);
    await until(() => raw.received().includes(Buffer.from([0x88, 2, 0x03, 0xea])), 'the close frame (1002)');
  });

  it('close() gives a peer that never answers the close frame 2 s, not ws\'s 30 s, holding what it half sent', async () => {
    const { s, raw } = await servedPeer();
    raw.write(wsFrameHeader(2, true, 1024 * 1024, true));
    raw.write(new Uint8Array(1000));
    await until(() => s.accepted[0]!.conn.midFrame, 'the message begun');
    s.accepted[0]!.conn.close();
    expect(await s.accepted[0]!.closed.promise).toBeUndefined();
    await until(() => raw.received().includes(Buffer.from([0x88, 2, 0x03, 0xe8])), 'the close frame (1000)');
    await until(() => (raw.write(new Uint8Array(1)), raw.socket.destroyed), 'the socket reset');
  });

  it('holds a peer given up on for lingerMs, as the TCP transport does, then drops it', async () => {
    // Longer than the default: still open once the default's 2 s have passed. The server runs in
    // this process, so its linger timer would have fired before this test's longer sleep.
    const held = await servedPeer({ lingerMs: 60_000 });
    held.s.accepted[0]!.conn.close();
    await until(() => held.raw.received().includes(Buffer.from([0x88, 2, 0x03, 0xe8])), 'the close frame (1000)');
    await sleep(CLOSE_LINGER_MS + 1_000);
    expect(held.raw.peerClosed).toBe(false);
    // Shorter: dropped once it has passed, the close frame first.
    const short = await servedPeer({ lingerMs: 50 });
    short.s.accepted[0]!.conn.close();
    expect(await short.raw.closedByPeer).toBeDefined();
    expect(short.raw.received().includes(Buffer.from([0x88, 2, 0x03, 0xe8]))).toBe(true);
  });

  it('refuses a lingerMs that is not a positive duration a timer holds, as the TCP transport does', () => {
    for (const bad of [0, -1, NaN, 2 ** 31]) {
      expect(() => wsTransport({ lingerMs: bad }), String(bad)).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidArgument, message: `lingerMs ${bad} is not a positive duration of at most 2147483647 ms` }),
      );
    }
    expect(wsTransport({ lingerMs: 2 ** 31 - 1 }).name).toBe('ws');
    expect(uwsTransport({ lingerMs: 0.5 }).name).toBe('uws');
  });
});
