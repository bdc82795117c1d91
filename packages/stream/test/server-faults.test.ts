import { ErrorCode, RemoteError, RpcError, type FrameConn, type Transport } from '@skein/core';
import { deferred, freePort, ManualClock, memoryLogger, portOf, tmpSocketPath, waitFor, within, cleanups } from '@skein/test-utils';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type RpcServerOptions } from '../src/index.js';
import { golden } from './golden.js';
import { rawPeer, readU32, startServer, transport, u32 } from './harness.js';

const cleanup = cleanups();

/** The TCP transport, counting how often the server pauses and resumes reading its connections. */
function pauseCountingTransport(): { transport: Transport; pauses: () => number; resumes: () => number } {
  let pauses = 0;
  let resumes = 0;
  const count = (conn: FrameConn): FrameConn => {
    const pause = conn.pause.bind(conn);
    const resume = conn.resume.bind(conn);
    conn.pause = () => (pauses++, pause());
    conn.resume = () => (resumes++, resume());
    return conn;
  };
  return {
    pauses: () => pauses,
    resumes: () => resumes,
    transport: {
      name: transport.name,
      connect: (address, spec, opts) => transport.connect(address, spec, opts),
      listen: (address, spec, accept) => transport.listen(address, spec, (conn) => accept(count(conn))),
    },
  };
}

describe('the connection cap', () => {
  it('closes connections past maxConnections, counted over every listener, and keeps the others working', async () => {
    const logger = memoryLogger();
    const server = new RpcServer({ dispatch: createRouter({ echo: (r) => r.msg }), maxConnections: 3, logger });
    cleanup.push(() => server.close());
    const a = await server.listen(transport, '127.0.0.1:0');
    const tcp = `${a.host}:${portOf(a)}`;
    const unix = `unix:${tmpSocketPath()}`;
    await server.listen(transport, unix);
    const first = [
      await ClientStream.connect({ transport, address: tcp }),
      await ClientStream.connect({ transport, address: unix }),
      await ClientStream.connect({ transport, address: tcp }),
    ];
    for (const c of first) cleanup.push(() => c.destroy());
    await waitFor(() => server.connections === 3);
    for (const address of [tcp, unix]) {
      const extra = await ClientStream.connect({ transport, address });
      cleanup.push(() => extra.destroy());
      await within(extra.closed(), 5000, 'the refused connection to close');
      await expect(extra.call('echo')).rejects.toMatchObject({ code: ErrorCode.Closed });
    }
    expect(server.connections).toBe(3);
    const warned = logger.lines.filter((l) => l.level === 'warn' && /connection limit/.test(l.msg ?? ''));
    expect(warned).toHaveLength(1); // one line per run of refusals
    expect(warned[0]!.obj).toMatchObject({ maxConnections: 3 });
    const replies = await Promise.all(first.map((c, i) => c.call('echo', u32(i))));
    expect(replies.map((r) => readU32(r.msg))).toEqual([0, 1, 2]);
    // A slot freed is a slot taken again.
    await first[0]!.close();
    await waitFor(() => server.connections === 2);
    const again = await ClientStream.connect({ transport, address: tcp });
    cleanup.push(() => again.destroy());
    expect(readU32((await again.call('echo', u32(9))).msg)).toBe(9);
  });
});

describe('close() while listen() is under way', () => {
  it('closes the listener before close() resolves, rejects the listen with Closed, and leaves no ticker', async () => {
    const clock = new ManualClock();
    const server = new RpcServer({ dispatch: createRouter({}), clock });
    const port = await freePort();
    const listening = server.listen(transport, `127.0.0.1:${port}`).catch((e) => e);
    await server.close();
    const refused = await new Promise<string>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.on('connect', () => (sock.destroy(), resolve('connected')));
      sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    expect(refused).toBe('ECONNREFUSED');
    expect(await listening).toMatchObject({ code: ErrorCode.Closed });
    expect(clock.running).toBe(0);
    expect(server.state).toBe('closed');
  });
});

describe('replies over the client\'s limits fail their call, not the connection', () => {
  const limits = { maxMessage: 4096, maxBlob: 2048 };

  async function setup(clientLimits: typeof limits = limits) {
    const gate = deferred();
    const s = await startServer({
      hold: async () => (await gate.promise, u32(1)),
      bigMsg: () => new Uint8Array(limits.maxMessage + 1),
      bigBlob: () => ({ msg: u32(2), blob: new Uint8Array(limits.maxBlob + 1) }),
      fitting: () => ({ msg: new Uint8Array(limits.maxMessage), blob: new Uint8Array(limits.maxBlob) }),
      bigError: () => {
        throw new RemoteError(new Uint8Array(limits.maxBlob + 1).fill(0x61));
      },
      // Exactly maxBlob bytes, but it starts with "rpc_": the escape byte in front makes it one too many.
      escapedError: () => {
        throw new RemoteError(new Uint8Array([...Buffer.from('rpc_'), ...new Uint8Array(limits.maxBlob - 4)]));
      },
      longDetail: () => {
        throw new RpcError(ErrorCode.InvalidArgument, 'x'.repeat(1010));
      },
      7: (r) => r.msg,
    });
    cleanup.push(() => s.server.close());
    cleanup.push(() => gate.resolve());
    const client = await s.connect({ limits: clientLimits });
    cleanup.push(() => client.destroy());
    return { client, gate };
  }

  it.each([
    ['bigMsg', /bigMsg: reply message of 4097 bytes exceeds the client's limit of 4096/],
    ['bigBlob', /bigBlob: reply blob of 2049 bytes exceeds the client's limit of 2048/],
    ['bigError', /bigError: error reply of 2049 bytes exceeds the client's limit of 2048/],
    ['escapedError', /escapedError: error reply of 2049 bytes exceeds the client's limit of 2048/],
  ])('%s fails with FrameTooLarge naming the action, while other calls go on', async (action, message) => {
    const { client, gate } = await setup();
    const held = client.call('hold');
    const err = await client.call(action).catch((e) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(ErrorCode.FrameTooLarge);
    expect(err.message).toMatch(message);
    expect(readU32((await client.call(7, u32(3))).msg)).toBe(3);
    const fits = await client.call('fitting');
    expect([fits.msg.length, fits.blob.length]).toEqual([limits.maxMessage, limits.maxBlob]);
    gate.resolve();
    expect(readU32((await held).msg)).toBe(1);
    expect(client.state).toBe('open');
  });

  it("cuts a built-in error's detail to what the client takes, never drops it", async () => {
    // "rpc_invalid_argument:" and 1010 bytes of detail: over the 1 KiB the client takes, so 1003 stay.
    const { client } = await setup({ maxMessage: 1024, maxBlob: 1024 });
    const err = await client.call('longDetail').catch((e) => e);
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'x'.repeat(1024 - 'rpc_invalid_argument:'.length) });
    expect(readU32((await client.call(7, u32(4))).msg)).toBe(4);
    expect(client.state).toBe('open');
  });
});

describe('backpressure from error replies', () => {
  it('stops reading while error replies fill the send buffer, as it does for ok replies', async () => {
    const counting = pauseCountingTransport();
    const payload = new Uint8Array(4096).fill(0x61);
    let handled = 0;
    const server = new RpcServer({ dispatch: { dispatch: (req) => (handled++, req.failCustom(payload)) } });
    cleanup.push(() => server.close());
    const a = await server.listen(counting.transport, '127.0.0.1:0');
    const peer = rawPeer(`${a.host}:${portOf(a)}`, cleanup);
    peer.stopReading();
    // 32 MiB of error replies: far more than the socket buffers between the two sides hold.
    const requests = 8000;
    const frame = golden.numericActionRequest;
    const all = new Uint8Array(frame.length * requests);
    for (let i = 0; i < requests; i++) all.set(frame, i * frame.length);
    peer.send(all);
    await waitFor(() => counting.pauses() > 0, { what: 'the server to pause reading' });
    expect(handled).toBeLessThan(requests);
    peer.startReading();
    await waitFor(() => peer.receivedBytes() >= requests * (20 + payload.length), { what: 'every reply', timeoutMs: 20_000 });
    expect(handled).toBe(requests);
    expect(counting.resumes()).toBeGreaterThan(0);
  });
});

describe('the idle clock counts calls only', () => {
  it('closes a peer that only pings and says hello, however often', async () => {
    const clock = new ManualClock();
    const s = await startServer({}, { idleTimeoutMs: 3000, tickMs: 1000, clock });
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    await waitFor(() => s.server.connections === 1);
    let closed = false;
    void peer.closed.then(() => (closed = true));
    // A ping or a hello before every tick, each answered before the tick runs.
    for (let t = 0; t < 6 && !closed; t++) {
      const before = peer.receivedBytes();
      peer.send(t % 2 === 0 ? golden.ping : golden.helloRequest);
      await waitFor(() => peer.receivedBytes() > before || closed, { what: 'an answer' });
      clock.advance(1000);
    }
    await within(peer.closed, 5000, 'the idle close');
    await waitFor(() => s.server.connections === 0, { what: 'the server to forget the connection' });
  });
});

describe('the read timeout inside a frame', () => {
  it('closes a peer that dribbles one frame, even while it finishes pings, and keeps one that finishes its frames', async () => {
    const clock = new ManualClock();
    const logger = memoryLogger();
    const s = await startServer({}, { idleTimeoutMs: 0, readTimeoutMs: 3000, tickMs: 1000, clock, logger });
    cleanup.push(() => s.server.close());
    const dribbler = rawPeer(s.address, cleanup);
    const steady = rawPeer(s.address, cleanup);
    await waitFor(() => s.server.connections === 2);
    let closed = false;
    void dribbler.closed.then(() => (closed = true));
    // The dribbler sends its ping a byte per tick: never finished. The steady peer finishes a ping per tick.
    const ping = golden.ping;
    for (let t = 0; t < ping.length - 1 && !closed; t++) {
      dribbler.send(ping.subarray(t, t + 1));
      const before = steady.receivedBytes();
      steady.send(ping);
      await waitFor(() => steady.receivedBytes() > before, { what: 'the steady pong' });
      clock.advance(1000);
    }
    await within(dribbler.closed, 5000, 'the read-timeout close');
    expect(s.server.connections).toBe(1);
    expect(logger.lines.some((l) => /read timeout/.test(l.msg ?? ''))).toBe(true);
  });
});

describe('options are checked when the server is built', () => {
  const dispatch = createRouter({});
  it.each<[Partial<RpcServerOptions>, RegExp]>([
    [{ maxInFlightPerConn: 0 }, /maxInFlightPerConn must be a positive integer, got 0/],
    [{ maxInFlightPerConn: 1.5 }, /maxInFlightPerConn/],
    [{ maxConnections: 0 }, /maxConnections must be a positive integer/],
    [{ maxConnections: NaN }, /maxConnections/],
    [{ idleTimeoutMs: -1 }, /idleTimeoutMs must be a number of milliseconds from 0/],
    [{ idleTimeoutMs: NaN }, /idleTimeoutMs/],
    [{ readTimeoutMs: -1 }, /readTimeoutMs must be a number of milliseconds from 0/],
    [{ closeWaitMs: -5 }, /closeWaitMs/],
    [{ closeWaitMs: 2 ** 31 }, /closeWaitMs .* to 2147483647, got 2147483648/],
    [{ tickMs: 0 }, /tickMs must be a number of milliseconds from 1/],
    [{ tickMs: Infinity }, /tickMs/],
    [{ tickMs: '5' as unknown as number }, /tickMs/],
  ])('%o is refused with InvalidArgument', (opts, message) => {
    let thrown: unknown;
    try {
      new RpcServer({ dispatch, ...opts });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(RpcError);
    expect(thrown).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(message) });
  });

  it('takes 0 to disable the idle clock or to cut at once on close, and Infinity for no connection cap', () => {
    expect(() => new RpcServer({ dispatch, idleTimeoutMs: 0, closeWaitMs: 0, maxConnections: Infinity })).not.toThrow();
  });
});

describe('a dispatch that throws', () => {
  it('is answered Internal even when the logger throws writing why (a line it cannot write must not leave the call unanswered)', async () => {
    const throwingLogger = { debug() {}, info() {}, warn() {}, error() { throw new Error('cannot write this line'); } };
    const server = new RpcServer({ dispatch: { dispatch() { throw new Error('dispatch bug'); } }, logger: throwingLogger });
    cleanup.push(() => server.close());
    const a = await server.listen(transport, '127.0.0.1:0');
    const client = await ClientStream.connect({ transport, address: `${a.host}:${portOf(a)}` });
    cleanup.push(() => client.destroy());
    const err = await within(client.call('x', new Uint8Array([1])), 5000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(ErrorCode.Internal);
    // The connection serves on.
    const again = await within(client.call('x', new Uint8Array([1])), 5000).catch((e: unknown) => e);
    expect((again as RpcError).code).toBe(ErrorCode.Internal);
  });
});
