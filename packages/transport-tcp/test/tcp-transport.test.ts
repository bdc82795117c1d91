import { describe, expect, it } from 'vitest';
import { ErrorCode, FrameError, RpcError, SMALL_PART, type ByteConn, type ByteHandlers, type FrameConn, type FrameListener, type Runtime } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { freePort, handleCounts, leakedHandles, seededRandom, tmpSocketPath, waitFor, cleanups } from '@skein/test-utils';
import { tcpTransport, type TcpTransportOptions } from '../src/index.js';
import { countingRuntime, echo, recordFrames, recordingRuntime, serve, tcp, type Behaviour, type FrameRecorder, type Server } from './harness.js';
import { LIMIT, concat, header, lengthPrefixed, noise, spec, str, text } from './spec.js';

const cleanup = cleanups();

async function started(server: Promise<Server>): Promise<Server> {
  const s = await server;
  cleanup.push(() => s.listener.close());
  return s;
}

async function client(listener: FrameListener, transport = tcp()): Promise<FrameRecorder> {
  const rec = recordFrames(await transport.connect(listener.address, spec));
  cleanup.push(() => rec.conn.close());
  return rec;
}

function send(rec: FrameRecorder, body: Uint8Array): void {
  rec.conn.write(header(body.length));
  rec.conn.write(body);
}

/** Bodies compared by bytes (received ones are Buffers), naming the first that differs. */
function expectBodies(rec: FrameRecorder, expected: Uint8Array[]): void {
  expect(rec.frames).toHaveLength(expected.length);
  expect(rec.frames.findIndex((f, i) => Buffer.compare(f.body, expected[i]!) !== 0)).toBe(-1);
}
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A connection that writes raw bytes, so a test decides where frames are cut; it reads nothing. */
async function rawClient(listener: FrameListener): Promise<ByteConn> {
  const raw = await nodeRuntime.connect(listener.address);
  raw.bind({ data: () => {}, drain: () => {}, end: () => {}, close: () => {} });
  cleanup.push(() => raw.close());
  return raw;
}

describe('tcpTransport', () => {
  it('round-trips many frames of mixed sizes, zero-length ones included, in order', async () => {
    const server = await started(serve(tcp(), { frame: echo }));
    const c = await client(server.listener);
    const bodies = Array.from({ length: 500 }, (_, i) => noise((i * 37) % 3000, i + 1));
    bodies.forEach((b) => send(c, b));
    await c.frameCount(bodies.length);
    expectBodies(c, bodies);
    expect(c.frames.every((f, i) => str(f.header) === str(header(bodies[i]!.length)))).toBe(true);
  });

  it('counts the bytes received as they arrive, in the middle of a frame too (FrameConn.receivedBytes)', async () => {
    const server = await started(serve(tcp()));
    const raw = await rawClient(server.listener);
    const s = await server.next();
    expect(s.conn.receivedBytes).toBe(0);
    // A frame's header and part of its body: nothing whole has come, but its bytes have.
    raw.write([header(100_000), noise(30_000, 1)]);
    await waitFor(() => s.conn.receivedBytes === 4 + 30_000 || undefined, { what: 'the first part of the frame counted' });
    expect(s.frames).toHaveLength(0);
    raw.write([noise(70_000, 2)]);
    await s.frameCount(1);
    expect(s.conn.receivedBytes).toBe(4 + 100_000);
  });

  it('round-trips a run of zero-length bodies', async () => {
    const server = await started(serve(tcp(), { frame: echo }));
    const c = await client(server.listener);
    const bodies = [new Uint8Array(0), new Uint8Array(0), text('between'), new Uint8Array(0)];
    bodies.forEach((b) => send(c, b));
    await c.frameCount(bodies.length);
    expectBodies(c, bodies);
  });

  it('round-trips frames over a Unix socket', async () => {
    const path = tmpSocketPath();
    const server = await started(serve(tcp(), { frame: echo }, { address: { path } }));
    expect(server.listener.address).toEqual({ path });
    const c = await client(server.listener);
    send(c, text('over unix'));
    await c.frameCount(1);
    expect(str(c.frames[0]!.body)).toBe('over unix');
  });

  it('sends 1000 frames written in one synchronous run in a handful of socket writes', async () => {
    const server = await started(serve(tcp()));
    const { runtime, writes } = recordingRuntime();
    const c = await client(server.listener, tcp({ batchFrames: Infinity }, runtime));
    const bodies = Array.from({ length: 1000 }, (_, i) => text(`frame ${i}`));
    bodies.forEach((b) => send(c, b));
    const s = await server.next();
    await s.frameCount(1000);
    expectBodies(s, bodies);
    // About 16 KB of small frames: one write of one or two slab chunks, not 1000 (or 2000).
    expect(writes.length).toBeLessThanOrEqual(3);
    expect(writes.flat().length).toBeLessThanOrEqual(4);
  });

  it('sends a long run in batches of batchFrames as it is written, each one chunk, every frame intact', async () => {
    const server = await started(serve(tcp()));
    const { runtime, writes } = recordingRuntime();
    const c = await client(server.listener, tcp({}, runtime));
    const bodies = Array.from({ length: 1000 }, (_, i) => text(`frame ${i}`));
    bodies.forEach((b) => send(c, b));
    // 2000 writes: 15 batches of the default 128 have left before the turn is over.
    expect(writes.map((w) => w.length)).toEqual(Array(15).fill(1));
    await turn();
    expect(writes).toHaveLength(16);
    const s = await server.next();
    await s.frameCount(1000);
    expectBodies(s, bodies);
  });

  it('cuts batches inside frames without harm when the limits are tiny', async () => {
    const server = await started(serve(tcp({ batchFrames: 3, batchBytes: 7 }), { frame: echo }));
    const c = await client(server.listener, tcp({ batchFrames: 1 }));
    const bodies = Array.from({ length: 200 }, (_, i) => noise(i * 13, i));
    bodies.forEach((b) => send(c, b));
    await c.frameCount(200);
    expectBodies(c, bodies);
  });

  it('hands a large part to the socket by reference, and copies small ones', async () => {
    const server = await started(serve(tcp()));
    const { runtime, writes } = recordingRuntime();
    const c = await client(server.listener, tcp({}, runtime));
    const big = noise(64 * 1024, 9);
    const head = header(big.length);
    c.conn.write(head);
    c.conn.write(big);
    await turn();
    const chunks = writes.flat();
    expect(chunks.some((chunk) => chunk === big)).toBe(true);
    expect(chunks.some((chunk) => chunk.buffer === head.buffer)).toBe(false);
    const s = await server.next();
    await s.frameCount(1);
    expectBodies(s, [big]);
  });

  // Copies are fresh ArrayBuffer memory, which Node 20's V8 counts against the old generation's
  // limit until the next full GC: copying 1 KiB messages (the old 16 KiB default) kept a 1 KiB
  // echo's server and client in back-to-back Mark-Compacts at half the calls/s.
  it('by default copies only parts under SMALL_PART: a part of SMALL_PART bytes goes by reference', async () => {
    const server = await started(serve(tcp()));
    const { runtime, writes } = recordingRuntime();
    const c = await client(server.listener, tcp({}, runtime));
    const body = noise(SMALL_PART, 5);
    const small = noise(SMALL_PART - 1, 6);
    send(c, body);
    send(c, small);
    await turn();
    const chunks = writes.flat();
    expect(chunks.some((chunk) => chunk === body)).toBe(true);
    expect(chunks.some((chunk) => chunk === small || chunk.buffer === small.buffer)).toBe(false);
    const s = await server.next();
    await s.frameCount(2);
    expectBodies(s, [body, small]);
  });

  it('never writes over memory a socket was given, with two connections sharing the slab', async () => {
    const server = await started(serve(tcp()));
    const { runtime, writes } = recordingRuntime();
    const transport = tcp({ slabSize: 4096, copyThreshold: 1024 }, runtime);
    const [a, b] = [await client(server.listener, transport), await client(server.listener, transport)];
    const snapshots: Uint8Array[][] = [];
    const bodies = Array.from({ length: 400 }, (_, i) => noise(1 + ((i * 53) % 200), i + 1));
    for (let t = 0; t < 20; t++) {
      for (const body of bodies.slice(t * 20, t * 20 + 20)) {
        send(a, body);
        send(b, body);
      }
      await turn();
      snapshots.push(...writes.slice(snapshots.length).map((w) => w.map((c) => c.slice())));
    }
    expect(writes.map((w) => w.map((c) => c.slice()))).toEqual(snapshots);
    const [sa, sb] = [await server.next(), await server.next()];
    await Promise.all([sa.frameCount(400), sb.frameCount(400)]);
    expectBodies(sa, bodies);
    expectBodies(sb, bodies);
  });

  it('delivers 8 MiB bodies byte-exact, reporting congestion and then drain', async () => {
    const server = await started(serve(tcp(), { frame: echo }));
    const c = await client(server.listener);
    const bodies = [noise(8 << 20, 1), noise(8 << 20, 2)];
    bodies.forEach((b) => send(c, b));
    c.conn.flush();
    expect(c.conn.congested).toBe(true);
    await c.frameCount(2);
    expect(c.drains).toBeGreaterThan(0);
    expect(c.conn.congested).toBe(false);
    expectBodies(c, bodies);
  });

  it('closes only the connection that sent an over-limit length; its neighbour keeps working', async () => {
    const server = await started(serve(tcp(), { frame: echo }));
    const good = await client(server.listener);
    const bad = await client(server.listener);
    send(good, text('before'));
    await good.frameCount(1);
    const goodSide = await server.next();
    const badSide = await server.next();
    bad.conn.write(header(LIMIT + 1));
    const err = await badSide.closed;
    expect(err).toBeInstanceOf(FrameError);
    expect(err!.message).toBe(`body of ${LIMIT + 1} bytes is over the ${LIMIT} byte limit`);
    send(good, text('after'));
    await good.frameCount(2);
    expect(str(good.frames[1]!.body)).toBe('after');
    expect(goodSide.closeCalls).toEqual([]);
  });

  it.each([
    ['a plain Error', new Error('handler bug')],
    ['a FrameError', new FrameError('bad payload')],
  ])('closes the connection with %s thrown by a frame handler, delivering nothing after it', async (_, thrown) => {
    const server = await started(
      serve(tcp(), {
        frame: () => {
          throw thrown;
        },
      }),
    );
    const c = await client(server.listener);
    send(c, text('first'));
    send(c, text('second'));
    const s = await server.next();
    expect(await s.closed).toBe(thrown);
    expect(s.frames.map((f) => str(f.body))).toEqual(['first']);
  });

  it('reports a peer that ends in the middle of a frame as a FrameError', async () => {
    const server = await started(serve(tcp()));
    const raw = await nodeRuntime.connect(server.listener.address);
    raw.bind({ data: () => {}, drain: () => {}, close: () => {} });
    raw.write([header(10), text('abc')]);
    raw.end();
    const s = await server.next();
    const err = await s.closed;
    expect(err).toBeInstanceOf(FrameError);
    expect(err!.message).toBe('the peer ended in the middle of a frame');
  });

  it('pause() holds back frames, even those in a chunk being read, until resume()', async () => {
    const server = await started(
      serve(tcp(), {
        frame: (_, rec) => {
          if (rec.frames.length === 1) rec.conn.pause();
        },
      }),
    );
    const c = await client(server.listener);
    for (let i = 0; i < 5; i++) send(c, text(`f${i}`));
    const s = await server.next();
    await s.frameCount(1);
    for (let i = 0; i < 10; i++) await turn();
    expect(s.frames).toHaveLength(1);
    s.conn.resume();
    expect(s.frames).toHaveLength(1);
    await s.frameCount(5);
    expect(s.frames.map((f) => str(f.body))).toEqual(['f0', 'f1', 'f2', 'f3', 'f4']);
  });

  it('end() sends what is queued, then half-closes; the end handler sees it after the last frame and answers', async () => {
    const server = await started(
      serve(tcp(), {
        end: (rec) => {
          send(rec, text(`got ${rec.frames.length}`));
          rec.conn.end();
        },
      }),
    );
    const c = await client(server.listener);
    for (let i = 0; i < 3; i++) send(c, text(`last ${i}`));
    c.conn.end();
    send(c, text('ignored after end'));
    const s = await server.next();
    await c.frameCount(1);
    expect(str(c.frames[0]!.body)).toBe('got 3');
    expect(await c.closed).toBeUndefined();
    expect(await s.closed).toBeUndefined();
    expect(s.endedAfter).toBe(3);
    expect(s.frames.map((f) => str(f.body))).toEqual(['last 0', 'last 1', 'last 2']);
  });

  it('without an end handler, answers with what is queued, then ends when the peer ends', async () => {
    const server = await started(serve(tcp(), { frame: echo }));
    const c = await client(server.listener);
    for (let i = 0; i < 3; i++) send(c, text(`echo ${i}`));
    c.conn.end();
    expect(await c.closed).toBeUndefined();
    expect(c.frames.map((f) => str(f.body))).toEqual(['echo 0', 'echo 1', 'echo 2']);
  });

  it('holds the peer\'s end behind frames held by pause()', async () => {
    const server = await started(
      serve(tcp(), {
        frame: (_, rec) => {
          if (rec.frames.length === 1) rec.conn.pause();
        },
        end: (rec) => rec.conn.end(),
      }),
    );
    const c = await client(server.listener);
    for (let i = 0; i < 3; i++) send(c, text(`f${i}`));
    c.conn.end();
    const s = await server.next();
    await s.frameCount(1);
    for (let i = 0; i < 10; i++) await turn();
    expect(s.endedAfter).toBeUndefined();
    s.conn.resume();
    expect(await s.closed).toBeUndefined();
    expect(s.endedAfter).toBe(3);
  });

  it('sends a FrameError\'s last words after the frames already queued, then closes', async () => {
    const bye = concat([header(3), text('bye')]);
    const frameSpec = lengthPrefixed(LIMIT, bye);
    const server = await started(serve(tcp({ lingerMs: 60_000 }), { frame: echo }, { frameSpec }));
    const c = await client(server.listener);
    send(c, text('before'));
    c.conn.write(header(LIMIT + 1));
    const s = await server.next();
    const err = await s.closed;
    expect(err).toBeInstanceOf(FrameError);
    expect((err as FrameError).lastWords).toBe(bye);
    // The client ends when the server does, so the close came without waiting out lingerMs.
    expect(await c.closed).toBeUndefined();
    expect(c.frames.map((f) => str(f.body))).toEqual(['before', 'bye']);
  });

  it('drops a failed connection after lingerMs when the peer stays open after the last words', async () => {
    const bye = concat([header(3), text('bye')]);
    const server = await started(serve(tcp({ lingerMs: 20 }), {}, { frameSpec: lengthPrefixed(LIMIT, bye) }));
    const raw = await nodeRuntime.connect(server.listener.address);
    const received: Uint8Array[] = [];
    // An end handler that never ends: this peer keeps its side open.
    raw.bind({ data: (chunk) => received.push(chunk), drain: () => {}, end: () => {}, close: () => {} });
    cleanup.push(() => raw.close());
    raw.write([header(LIMIT + 1)]);
    const s = await server.next();
    expect(await s.closed).toBeInstanceOf(FrameError);
    expect(concat(received)).toEqual(bye);
  });

  it('close() drops queued parts, and later writes are ignored without a throw', async () => {
    const server = await started(serve(tcp()));
    const { runtime, writes } = recordingRuntime();
    const c = await client(server.listener, tcp({}, runtime));
    send(c, text('dropped'));
    c.conn.close();
    expect(() => {
      send(c, text('late'));
      c.conn.flush();
    }).not.toThrow();
    expect(await c.closed).toBeUndefined();
    await turn();
    expect(writes).toEqual([]);
  });

  it('rejects a refused connect with the runtime\'s Unreachable', async () => {
    const port = await freePort();
    const err = await tcp().connect({ host: '127.0.0.1', port }, spec).catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.Unreachable)).toBe(true);
  });

  it('rejects a frame spec without a header, and bad sizes', async () => {
    const noHeader = { headerLength: 0, bodyLength: () => 0 };
    const err = await tcp().connect({ host: '127.0.0.1', port: 1 }, noHeader).catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.InvalidArgument)).toBe(true);
    expect(() => tcpTransport(nodeRuntime, { copyThreshold: 1024, slabSize: 512 })).toThrow(RpcError);
    expect(() => tcpTransport(nodeRuntime, { copyThreshold: 100 })).toThrow(/at least 1024/);
    expect(() => tcpTransport(nodeRuntime, { copyThreshold: -1 })).toThrow(RpcError);
    expect(() => tcpTransport(nodeRuntime, { batchFrames: 0 })).toThrow(/batchFrames 0 must be a positive integer or Infinity/);
    expect(() => tcpTransport(nodeRuntime, { batchBytes: 1.5 })).toThrow(RpcError);
    expect(() => tcpTransport(nodeRuntime, { batchFrames: Infinity, batchBytes: Infinity })).not.toThrow();
    expect(() => tcpTransport(nodeRuntime, { maxPendingFrameBytes: 0 })).toThrow(/maxPendingFrameBytes 0 must be a positive integer or Infinity/);
    expect(() => tcpTransport(nodeRuntime, { maxPendingFrameBytes: 1.5 })).toThrow(RpcError);
    // Past what a timer holds: refused here, not by the clock when a connection fails and lingers.
    expect(() => tcpTransport(nodeRuntime, { lingerMs: 2 ** 31 })).toThrow(/lingerMs 2147483648 is not a positive duration of at most 2147483647 ms/);
    expect(() => tcpTransport(nodeRuntime, { maxPendingFrameBytes: Infinity })).not.toThrow();
  });

  it('leaves no handles once its connections and listener are closed', async () => {
    const before = handleCounts();
    const server = await serve(tcp(), { frame: echo });
    const c = recordFrames(await tcp().connect(server.listener.address, spec));
    send(c, text('x'));
    await c.frameCount(1);
    const s = await server.next();
    c.conn.close();
    s.conn.close();
    await Promise.all([c.closed, s.closed]);
    await server.listener.close();
    expect(leakedHandles(before)).toEqual({});
  });

  describe('frames cut across chunks', () => {
    const KiB = 1024;
    const budget = 1024 * KiB;

    /** A server counting what each accepted connection received, and a raw client with its server side, in accept order. */
    async function budgetServer(options: TcpTransportOptions = { maxPendingFrameBytes: budget }) {
      const { runtime, received } = countingRuntime();
      const server = await started(serve(tcp(options, runtime), { frame: echo }));
      const peer = async () => {
        const raw = await rawClient(server.listener);
        const side = await server.next();
        const index = server.accepted.indexOf(side);
        let sent = 0;
        return {
          side,
          /** Writes `bytes` and waits until the server has read all this peer sent. */
          send: async (bytes: Uint8Array) => {
            raw.write([bytes]);
            sent += bytes.length;
            await waitFor(() => received[index]! >= sent || side.closeCalls.length > 0, { what: `${sent} bytes received` });
          },
          raw,
        };
      };
      return { server, peer };
    }

    it('holds what lone headers sent, not the 16 MiB bodies they claim', async () => {
      const { peer } = await budgetServer({});
      const n = 32;
      const before = process.memoryUsage().arrayBuffers;
      const peers = [];
      for (let i = 0; i < n; i++) {
        const p = await peer();
        await p.send(header(LIMIT));
        peers.push(p);
      }
      const grown = process.memoryUsage().arrayBuffers - before;
      const sent = n * header(0).length;
      // What the connections hold is what they sent; the slack is for sockets and this test's own
      // small buffers. Allocated up front, this was n × 16 MiB = 512 MiB.
      expect(grown).toBeLessThan(2 * sent + 256 * KiB);
      expect(peers.every((p) => p.side.closeCalls.length === 0 && p.side.frames.length === 0)).toBe(true);
    });

    it('assembles a frame dribbled in many small writes, byte-exact, and reads on after it', async () => {
      const { server } = await budgetServer();
      const raw = await rawClient(server.listener);
      const s = await server.next();
      const bodies = [noise(200 * KiB, 7), text('next')];
      const bytes = concat(bodies.flatMap((b) => [header(b.length), b]));
      const random = seededRandom(11);
      for (let at = 0; at < bytes.length; ) {
        const n = 1 + Math.floor(random() * (random() < 0.9 ? 500 : 20 * KiB));
        raw.write([bytes.slice(at, at + n)]);
        at += n;
        await turn();
      }
      await s.frameCount(2);
      expectBodies(s, bodies);
    });

    it('pauses, not closes, the connection whose partly received frame would go over maxPendingFrameBytes, until room is given back', async () => {
      const { server, peer } = await budgetServer();
      const good = await client(server.listener);
      const goodSide = await server.next();
      send(good, text('before'));
      await good.frameCount(1);
      const a = await peer();
      const aBody = noise(900 * KiB, 1);
      await a.send(concat([header(aBody.length), aBody.subarray(0, 600 * KiB)]));
      const b = await peer();
      // Whole, it would fit on its own; on top of what a holds, it does not: it waits, reading paused.
      const bBody = noise(700 * KiB, 2);
      b.raw.write([concat([header(bBody.length), bBody])]);
      await waitFor(() => b.side.conn.waitingForRoom === true || b.side.closeCalls.length > 0, { what: 'b waiting for room' });
      expect([b.side.frames, b.side.closeCalls]).toEqual([[], []]);
      // The other connection works on meanwhile.
      send(good, text('after'));
      await good.frameCount(2);
      expect(str(good.frames[1]!.body)).toBe('after');
      // a finishes its frame: the room it held goes to b, which reads its frame whole.
      await a.send(aBody.subarray(600 * KiB));
      await a.side.frameCount(1);
      expectBodies(a.side, [aBody]);
      await b.side.frameCount(1);
      expectBodies(b.side, [bBody]);
      expect(b.side.conn.waitingForRoom).toBe(false);
      expect([a.side.closeCalls, b.side.closeCalls, goodSide.closeCalls]).toEqual([[], [], []]);
    });

    it('gives the budget back when a frame completes and when its connection closes', async () => {
      const { peer } = await budgetServer();
      const body = (seed: number) => noise(800 * KiB, seed);
      const start = (b: Uint8Array) => concat([header(b.length), b.subarray(0, 700 * KiB)]);
      // a completes its frame: what it held is free again.
      const a = await peer();
      const aBody = body(1);
      await a.send(start(aBody));
      await a.send(aBody.subarray(700 * KiB));
      await a.side.frameCount(1);
      // b holds 700 KiB, which would not fit beside a's, then ends mid-frame: freed by the close.
      const b = await peer();
      await b.send(start(body(2)));
      b.raw.end();
      expect((await b.side.closed)?.message).toBe('the peer ended in the middle of a frame');
      // c holds 700 KiB, which fits only if a's and b's were given back...
      const c = await peer();
      const cBody = body(3);
      await c.send(start(cBody));
      // ...and the budget still counts: d's whole frame does not fit beside c's, so waits for it.
      const d = await peer();
      const dBody = body(4);
      d.raw.write([concat([header(dBody.length), dBody])]);
      await waitFor(() => d.side.conn.waitingForRoom === true || d.side.closeCalls.length > 0, { what: 'd waiting for room' });
      expect([d.side.frames, d.side.closeCalls]).toEqual([[], []]);
      await c.send(cBody.subarray(700 * KiB));
      await c.side.frameCount(1);
      expectBodies(c.side, [cBody]);
      // What c gave back was d's to take.
      await d.side.frameCount(1);
      expectBodies(d.side, [dBody]);
    });
  });

  it('binds each ByteConn to handlers shared by every connection, not closures of its own', async () => {
    const server = await started(serve(tcp(), { frame: echo }));
    const bound: ByteHandlers[] = [];
    const runtime: Runtime = {
      ...nodeRuntime,
      connect: async (address, options) => {
        const conn = await nodeRuntime.connect(address, options);
        const seen: ByteConn = {
          remote: conn.remote,
          bind: (h) => (bound.push(h), conn.bind(h)),
          write: (chunks) => conn.write(chunks),
          pause: () => conn.pause(),
          resume: () => conn.resume(),
          end: () => conn.end(),
          close: () => conn.close(),
        };
        return seen;
      },
    };
    const [a, b] = [await client(server.listener, tcp(undefined, runtime)), await client(server.listener, tcp(undefined, runtime))];
    // Four closures per connection add up at 10,000 idle connections (docs/benchmarks.md, "Memory").
    expect(bound).toHaveLength(2);
    for (const name of ['data', 'drain', 'end', 'close'] as const) {
      expect(typeof bound[0]![name]).toBe('function');
      expect(bound[0]![name]).toBe(bound[1]![name]);
    }
    send(a, text('one'));
    send(b, text('two'));
    await a.frameCount(1);
    await b.frameCount(1);
    expect([str(a.frames[0]!.body), str(b.frames[0]!.body)]).toEqual(['one', 'two']);
  });

  it('names itself tcp', () => {
    expect(tcp().name).toBe('tcp');
  });
});

describe('FrameConn.setFrameSpec', () => {
  /** A listener cutting by `spec` (16 MiB), whose accepted connections `atAccept` may give another spec before they are bound. */
  async function listening(atAccept: (conn: FrameConn) => void, behaviour: Behaviour = {}) {
    const accepted: FrameRecorder[] = [];
    // A short linger: the raw peer never closes after the last words, and the close is reported at the drop.
    const listener = await tcp({ lingerMs: 50 }).listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => {
      atAccept(conn);
      accepted.push(recordFrames(conn, behaviour));
    });
    cleanup.push(() => listener.close());
    return { listener, accepted };
  }

  it('refuses a header over the narrower spec given at accept as it arrives, though the listener would take it', async () => {
    const s = await listening((conn) => conn.setFrameSpec!(lengthPrefixed(1000)));
    const raw = await rawClient(s.listener);
    // A frame within 1000 bytes, then a header claiming 5000 (under the listener's 16 MiB) and no body.
    raw.write([concat([header(3), text('one'), header(5000)])]);
    await waitFor(() => s.accepted.length === 1 && s.accepted[0]!.closeCalls.length === 1, { what: 'the connection closed on the header' });
    const side = s.accepted[0]!;
    expect(side.frames.map((f) => str(f.body))).toEqual(['one']);
    expect(side.closeCalls[0]).toBeInstanceOf(FrameError);
    expect(side.closeCalls[0]!.message).toBe('body of 5000 bytes is over the 1000 byte limit');
  });

  it('reads the next header by the new spec, also within a chunk already being read', async () => {
    const s = await listening(() => {}, {
      frame: (_body, rec) => rec.conn.setFrameSpec!(lengthPrefixed(1000)),
    });
    const raw = await rawClient(s.listener);
    raw.write([concat([header(2000), noise(2000, 3), header(1001), noise(1001, 4)])]);
    await waitFor(() => s.accepted[0]?.closeCalls.length === 1 || s.accepted[0]?.frames.length === 2, { what: 'the second frame refused or read' });
    expect(s.accepted[0]!.frames).toHaveLength(1);
    expect(s.accepted[0]!.closeCalls[0]!.message).toBe('body of 1001 bytes is over the 1000 byte limit');
  });

  it('refuses a spec of another header length with InvalidArgument, keeping the one it has', async () => {
    let refused: unknown;
    const s = await listening((conn) => {
      try {
        conn.setFrameSpec!({ headerLength: 8, bodyLength: () => 0 });
      } catch (err) {
        refused = err;
      }
    }, { frame: echo });
    const c = await client(s.listener);
    send(c, text('still 4-byte headers'));
    await c.frameCount(1);
    expect(refused).toBeInstanceOf(RpcError);
    expect((refused as RpcError).code).toBe(ErrorCode.InvalidArgument);
    expect(str(c.frames[0]!.body)).toBe('still 4-byte headers');
  });
});
