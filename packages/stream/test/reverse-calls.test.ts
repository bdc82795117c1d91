import { ErrorCode, RpcError } from '@skein/core';
import { waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, createRouter, type ActionHandler, type Caller } from '../src/index.js';
import { HELLO_ACTION, readResponseHeader, writeRequestHeader } from '../src/wire/protocol.js';
import { Concurrency, rawPeer, readU32, recordingTransport, startServer, transport, u32, type Started } from './harness.js';
import { RpcServer } from '../src/index.js';
import { wsTransport } from '@skein/transport-ws';
import type { FrameConn, Transport } from '@skein/core';
import type { ReverseCaller } from '../src/server/reverse-caller.js';
import { HelloRole, encodeHello, receiveLimitsEntry } from '../src/wire/hello.js';
import { REVERSE_ANSWER_ACTION, reverseOfferEntry } from '../src/wire/reverse-calls.js';

const cleanup = cleanups();

const call = (c: Caller, action: string, msg: Uint8Array, timeoutMs?: number) =>
  new Promise<Uint8Array>((resolve, reject) => c.send(action, msg, { timeoutMs }, (err, reply) => (err ? reject(err) : resolve(reply!.msg))));

/** Counts each index a handler saw, to find lost and duplicated calls. */
const counter = () => {
  const seen = new Map<number, number>();
  return { seen, add: (i: number) => seen.set(i, (seen.get(i) ?? 0) + 1) };
};

describe('calls both ways on one connection', () => {
  it('runs server→peer and peer→server calls at once under load: none lost, none run twice', async () => {
    const N = 2000;
    const onPeer = counter();
    const onServer = counter();
    const s = await startServer(
      {
      // A handler that calls back into the peer over the connection the call came on.
      relay: async (req) => {
        const i = readU32(req.msg);
        onServer.add(i);
        return call(req.conn.caller!, 'peer.double', req.msg);
      },
      },
      { reverseCalls: { maxQueued: 4 * N } },
    );
    cleanup.push(() => s.server.close());
    const peer = await s.connect({
      keepaliveMs: 0,
      serveWindow: 32,
      serve: createRouter({
        'peer.double': (req) => {
          const i = readU32(req.msg);
          onPeer.add(i);
          return u32(i * 2);
        },
      }),
    });
    cleanup.push(() => peer.destroy());
    await peer.ping();
    const [conn] = s.server.openConnections();
    expect(conn!.caller).toBeDefined();
    // Both ways at once: the peer floods relays (each makes a reverse call), the server floods reverse calls of its own.
    const fromPeer = Array.from({ length: N }, (_, i) => peer.call('relay', u32(i)).then((r) => readU32(r.msg)));
    const fromServer = Array.from({ length: N }, (_, i) => call(conn!.caller!, 'peer.double', u32(N + i)).then(readU32));
    expect(await Promise.all(fromPeer)).toEqual(Array.from({ length: N }, (_, i) => i * 2));
    expect(await Promise.all(fromServer)).toEqual(Array.from({ length: N }, (_, i) => (N + i) * 2));
    expect(onServer.seen.size).toBe(N);
    expect(onPeer.seen.size).toBe(2 * N);
    expect([...onPeer.seen.values(), ...onServer.seen.values()].every((n) => n === 1)).toBe(true);
  });

  it('reads the answers of reverse calls while the handlers that wait for them hold the cap of requests in flight', async () => {
    const CAP = 8;
    const running = new Concurrency();
    const gate: (() => void)[] = [];
    const s = await startServer(
      {
        relay: (req) => call(req.conn.caller!, 'peer.double', req.msg),
        hold: (req) =>
          new Promise<void>((resolve) => {
            running.enter();
            gate.push(() => (running.leave(), resolve()));
          }).then(() => req.msg),
      },
      { maxInFlightPerConn: CAP },
    );
    cleanup.push(() => s.server.close());
    const serve = createRouter({ 'peer.double': (req) => u32(readU32(req.msg) * 2) });
    // The client's window is the server's cap: every relay is in flight at once, each waiting for its call back.
    const peer = await s.connect({ keepaliveMs: 0, window: CAP, serve });
    cleanup.push(() => peer.destroy());
    const got = await Promise.all(Array.from({ length: 5 * CAP }, (_, i) => peer.call('relay', u32(i)).then((r) => readU32(r.msg))));
    expect(got).toEqual(Array.from({ length: 5 * CAP }, (_, i) => i * 2));
    // With no reverse call out, a connection that serves calls back stops reading at the cap as any
    // other does: a window past it waits (no refusal), and never more than the cap run at once.
    const wide = await s.connect({ keepaliveMs: 0, window: 3 * CAP, serve });
    cleanup.push(() => wide.destroy());
    const holds = Array.from({ length: 3 * CAP }, (_, i) => wide.call('hold', u32(i)).then((r) => readU32(r.msg)));
    for (let done = 0; done < 3 * CAP; ) {
      await waitFor(() => gate.length > 0);
      for (const open of gate.splice(0)) (open(), done++);
    }
    expect(await Promise.all(holds)).toEqual(Array.from({ length: 3 * CAP }, (_, i) => i));
    expect(running.max).toBeLessThanOrEqual(CAP);
    expect(running.total).toBe(3 * CAP);
  });

  it('refuses, unrun, requests past the cap that arrive while it reads for reverse answers', async () => {
    const CAP = 4;
    const ran = counter();
    const answers: (() => void)[] = [];
    const s = await startServer(
      {
        relay: (req) => {
          ran.add(readU32(req.msg));
          return call(req.conn.caller!, 'peer.later', req.msg);
        },
      },
      { maxInFlightPerConn: CAP },
    );
    cleanup.push(() => s.server.close());
    // A window larger than the server's cap (a misconfigured client): the peer holds its answers until the refusals are in.
    const peer = await s.connect({
      keepaliveMs: 0,
      window: 3 * CAP,
      serve: createRouter({ 'peer.later': (req) => new Promise<Uint8Array>((r) => answers.push(() => r(req.msg))) }),
    });
    cleanup.push(() => peer.destroy());
    const outcomes = Array.from({ length: 3 * CAP }, (_, i) =>
      peer.call('relay', u32(i)).then(
        (r) => ({ ok: readU32(r.msg) }),
        (err: RpcError) => ({ code: err.code, retry: err.retry }),
      ),
    );
    await waitFor(() => answers.length === CAP);
    const settled = await Promise.race([Promise.all(outcomes.slice(CAP)), new Promise((r) => setTimeout(r, 10_000, 'stuck'))]);
    expect(settled).toEqual(Array.from({ length: 2 * CAP }, () => ({ code: ErrorCode.Overloaded, retry: 'safe' })));
    for (const a of answers.splice(0)) a();
    expect(await Promise.all(outcomes.slice(0, CAP))).toEqual(Array.from({ length: CAP }, (_, i) => ({ ok: i })));
    expect([...ran.seen.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
  });

  it('keeps to the window the peer offered, and queues the rest', async () => {
    const running = new Concurrency();
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const waiting: (() => void)[] = [];
    const hold: ActionHandler = (req) =>
      new Promise<void>((resolve) => {
        running.enter();
        waiting.push(() => (running.leave(), resolve()));
      }).then(() => req.msg);
    const peer = await s.connect({ keepaliveMs: 0, serveWindow: 4, serve: createRouter({ hold }) });
    cleanup.push(() => peer.destroy());
    await peer.ping();
    const caller = s.server.openConnections()[0]!.caller!;
    const calls = Array.from({ length: 50 }, (_, i) => call(caller, 'hold', u32(i)));
    for (let done = 0; done < 50; ) {
      await waitFor(() => waiting.length > 0);
      expect(running.now).toBeLessThanOrEqual(4);
      for (const w of waiting.splice(0)) (w(), done++);
    }
    expect((await Promise.all(calls)).map(readU32)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(running).toMatchObject({ max: 4, total: 50 });
  });

  it('fails the reverse calls of a connection that closes mid-flood: sent ones may have run, queued ones never ran', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    let arrived = 0;
    const peer = await s.connect({ keepaliveMs: 0, serveWindow: 16, serve: createRouter({ hang: () => new Promise(() => void arrived++) }) });
    await peer.ping();
    const caller = s.server.openConnections()[0]!.caller!;
    const outcomes = Array.from({ length: 500 }, (_, i) => call(caller, 'hang', u32(i)).then(() => 'ok', (e: RpcError) => e));
    await waitFor(() => arrived === 16);
    peer.destroy();
    const errors = (await Promise.all(outcomes)) as RpcError[];
    expect(errors.every((e) => e instanceof RpcError && e.code === ErrorCode.IO)).toBe(true);
    const mayHaveRun = errors.filter((e) => e.retry !== 'safe');
    expect(mayHaveRun).toHaveLength(16);
    expect(mayHaveRun[0]!.message).toMatch(/may have run/);
    expect(errors.filter((e) => e.retry === 'safe')).toHaveLength(484);
    // After the close, a new reverse call fails at once, unsent.
    await expect(call(caller, 'hang', u32(0))).rejects.toMatchObject({ code: ErrorCode.IO, retry: 'safe' });
  });

  it('refuses reverse calls while the peer closes, and the peer waits for those it runs', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    let finish!: () => void;
    const peer = await s.connect({
      keepaliveMs: 0,
      serve: createRouter({ slow: (req) => new Promise<Uint8Array>((r) => (finish = () => r(req.msg))) }),
    });
    await peer.ping();
    const caller = s.server.openConnections()[0]!.caller!;
    const running = call(caller, 'slow', u32(7));
    await waitFor(() => finish !== undefined);
    const closing = peer.close();
    await expect(call(caller, 'slow', u32(8))).rejects.toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    finish();
    expect(readU32(await running)).toBe(7);
    await closing;
  });

  it('a Skein client without serve, and a razor v1 client, get no caller and no reverse frame', async () => {
    const s = await startServer({ echo: (req) => req.msg });
    cleanup.push(() => s.server.close());
    const plain = await ClientStream.connect({ transport, address: s.address, keepaliveMs: 0 });
    cleanup.push(() => plain.destroy());
    expect((await plain.call('echo', u32(5))).msg).toEqual(u32(5));
    const raw = rawPeer(s.address, cleanup);
    // A v1 request for action "echo", seq 9: razor's bytes, no hello.
    const name = new TextEncoder().encode('echo');
    const frame = new Uint8Array(32 + name.length + 4);
    writeRequestHeader(frame, 'echo', name.length, 9, 4, 0);
    frame.set(name, 32);
    frame.set(u32(3), 32 + name.length);
    raw.send(frame);
    await waitFor(() => raw.received().length >= 24);
    const got = raw.received();
    const head = readResponseHeader(got.subarray(0, 20));
    expect(head).toMatchObject({ flag: 0, seq: 9, msgLength: 4 });
    expect(got.length).toBe(24);
    expect(s.server.openConnections().map((c) => c.caller)).toEqual([undefined, undefined]);
    expect(HELLO_ACTION).toBe(0x7fff_ff00);
  });

  it('puts the offer, the answer, a reverse call and its answer on the wire as docs/protocol.md shows', async () => {
    const rec = recordingTransport();
    const server = new RpcServer({ dispatch: createRouter({}) });
    cleanup.push(() => server.close());
    const a = (await server.listen(rec.transport, '127.0.0.1:0')) as { port: number };
    const peer = await ClientStream.connect({ transport: rec.transport, address: `127.0.0.1:${a.port}`, keepaliveMs: 0, serveWindow: 2, serve: createRouter({ 'p.x': (req) => req.msg }) });
    cleanup.push(() => peer.destroy());
    await peer.ping();
    expect(readU32(await call(server.openConnections()[0]!.caller!, 'p.x', new Uint8Array([1, 2, 0, 0])))).toBe(0x201);
    const wire = Buffer.concat(rec.writes).toString('hex');
    // Offer entry: kind 20, 4 bytes, window 2, then kind 22 (deadlines and cancels), empty. Answer
    // entry: kind 20, 8 bytes, 16 MiB and 64 MiB, then kind 22, empty.
    expect(wire).toContain('1400' + '0400' + '02000000' + '1600' + '0000');
    expect(wire).toContain('1400' + '0800' + '00000001' + '00000004' + '1600' + '0000');
    // The reverse call, timed (kind 22 agreed): a response header with flag 0x1A, seq 1, msg =
    // remaining_ms u32 (20 000: the server's default timeout, none of it spent) | action u32 | "p.x" | msg.
    // (The untimed one, flag 0x18, to a side that did not offer kind 22: reverse-call-control.test.ts.)
    expect(wire).toContain('254d011a' + '0f000000' + '0100000000000000' + '00000000' + '204e0000' + '03000080' + '702e78' + '01020000');
    // Its answer: a request with action 0x7FFF_FF18, seq 1, msg = flag 0 | the reply's msg.
    expect(wire).toContain('254d0100' + '18ffff7f' + '0100000000000000' + '0000000000000000' + '05000000' + '00000000' + '00' + '01020000');
  });

  it('fails a reverse call whose answer is malformed with IO, with the connection, rather than leaving it unsettled', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    const offer = encodeHello(HelloRole.Offer, [receiveLimitsEntry(1 << 20, 1 << 20), reverseOfferEntry(2)]);
    const hello = new Uint8Array(32 + offer.length);
    writeRequestHeader(hello, HELLO_ACTION, 0, 0, offer.length, 0);
    hello.set(offer, 32);
    peer.send(hello);
    await waitFor(() => s.server.openConnections()[0]?.caller, { what: 'calls both ways agreed' });
    let outcome: Error | Uint8Array | undefined;
    call(s.server.openConnections()[0]!.caller!, 'p.x', u32(1)).then((r) => (outcome = r), (e: Error) => (outcome = e));
    // The reverse call (flag 0x18, seq 1) arrives after the hello's answer; answered with flag 9, which no answer has.
    await waitFor(() => peer.received().includes(Buffer.from('254d0118', 'hex')), { what: 'the reverse call' });
    const answer = new Uint8Array(33);
    writeRequestHeader(answer, REVERSE_ANSWER_ACTION, 0, 1, 1, 0);
    answer[32] = 9;
    peer.send(answer);
    await peer.closed;
    await waitFor(() => s.server.connections === 0, { what: 'the connection closed' });
    // Settled with the close (before, it never was: the answer took it off the wire, then failed to parse).
    await new Promise((resolve) => setImmediate(resolve));
    expect(outcome).toMatchObject({ code: ErrorCode.IO, message: expect.stringMatching(/unknown flag 9/) });
  });

  it('fails a reverse call that would not fit what the other side reads, unsent', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    let ran = 0;
    const peer = await s.connect({ keepaliveMs: 0, limits: { maxMessage: 2048 }, serve: createRouter({ big: () => void ran++ }) });
    cleanup.push(() => peer.destroy());
    await peer.ping();
    const caller = s.server.openConnections()[0]!.caller!;
    await expect(call(caller, 'big', new Uint8Array(2048))).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge });
    // 2048 with the action field, "big" and the remaining time (4 + 3 + 4 bytes).
    await call(caller, 'big', new Uint8Array(2037));
    expect(ran).toBe(1);
    expect(peer.state).toBe('open');
  });

  it("cuts a handler's Overloaded detail to the server's limits, never drops it: a bare one would say the handler never ran", async () => {
    // The server reads error strings of at most 1024 bytes; the handler's detail is longer.
    const s = await startServer({}, { limits: { maxBlob: 1024 } });
    cleanup.push(() => s.server.close());
    let ran = 0;
    const overloaded = (): never => {
      ran++;
      throw new RpcError(ErrorCode.Overloaded, `downstream refused: ${'x'.repeat(1100)}`);
    };
    // Exposed: without it the detail is `op: rpc_overloaded`, the downstream's words kept home.
    const peer = await s.connect({ keepaliveMs: 0, serve: createRouter({ op: overloaded }, { exposeInternalErrors: true }) });
    cleanup.push(() => peer.destroy());
    await peer.ping();
    const err = await call(s.server.openConnections()[0]!.caller!, 'op', new Uint8Array(0)).catch((e: unknown) => e);
    expect(ran).toBe(1);
    expect(err).toMatchObject({ code: ErrorCode.Overloaded, retry: 'idempotent' });
    expect((err as RpcError).message).toMatch(/^op: downstream refused: x+$/);
    expect(peer.state).toBe('open');
  });

  /** A peer serving `take` with the widest window the server takes, and its own connection (to stop its reading). */
  async function slowPeer(s: Started) {
    const dialled: FrameConn[] = [];
    const dialling: Transport = {
      name: transport.name,
      connect: async (address, spec, opts) => {
        const conn = await transport.connect(address, spec, opts);
        dialled.push(conn);
        return conn;
      },
      listen: (address, spec, accept) => transport.listen(address, spec, accept),
    };
    const ran = { count: 0 };
    const peer = await ClientStream.connect({ transport: dialling, address: s.address, keepaliveMs: 0, serveWindow: 65_536, serve: createRouter({ take: () => void ran.count++ }) });
    cleanup.push(() => peer.destroy());
    await peer.ping();
    return { peer, conn: dialled[0]!, ran, caller: s.server.openConnections()[0]!.caller as ReverseCaller };
  }

  it('holds reverse calls back while the send buffer is full: a peer that stops reading costs a bounded count, not its whole window', async () => {
    const s = await startServer({}, { reverseCalls: { maxQueued: 64 } });
    cleanup.push(() => s.server.close());
    const { conn, ran, caller } = await slowPeer(s);
    // The window alone (65 536) would let every call below onto the socket.
    conn.pause();
    const SIZE = 64 * 1024;
    const N = 1000;
    const msg = new Uint8Array(SIZE);
    // One call a turn, so that the server's socket drains into the kernel between them while it can.
    const outcomes: Promise<string>[] = [];
    for (let i = 0; i < N; i++) {
      outcomes.push(call(caller, 'take', msg, 60_000).then(() => 'ok', (e: RpcError) => e.codeName));
      await new Promise((resolve) => setImmediate(resolve));
    }
    // What the kernel took before the buffers filled is on the wire, 64 wait, the rest were refused unrun.
    const onWire = caller.inFlight;
    expect(caller.queued).toBe(64);
    // The kernel's buffers on both sides of loopback take a few MiB; 1000 calls would be 62.5 MiB.
    expect(onWire * SIZE).toBeLessThan(16 * 1024 * 1024);
    conn.resume();
    const settled = await Promise.all(outcomes);
    expect(settled.filter((o) => o === 'ok')).toHaveLength(onWire + 64);
    expect(settled.filter((o) => o === 'Overloaded')).toHaveLength(N - onWire - 64);
    expect(ran.count).toBe(onWire + 64);
  });

  it('sends the reverse calls a full send buffer held back once it drains, though none is out to be answered', async () => {
    // 48 MiB: more than the kernel's buffers on both sides of loopback hold (their ceilings, 32 MiB and 4 MiB, here).
    const BIG = 48 * 1024 * 1024;
    let served = 0;
    const s = await startServer({ big: () => (served++, { msg: new Uint8Array(0), blob: new Uint8Array(BIG) }) });
    cleanup.push(() => s.server.close());
    const { peer, conn, ran, caller } = await slowPeer(s);
    conn.pause();
    // The server's answer to the peer's own call fills its send buffer.
    const reply = peer.call('big');
    await waitFor(() => served === 1 && s.server.stats().inFlight === 0, { what: 'the answer written' });
    const reverse = call(caller, 'take', u32(1), 5_000).then(() => 'ok', (e: RpcError) => e.codeName);
    expect([caller.inFlight, caller.queued]).toEqual([0, 1]);
    conn.resume();
    expect(await reverse).toBe('ok');
    expect((await reply).blob.length).toBe(BIG);
    expect(ran.count).toBe(1);
  });

  it('works over WebSocket, whose transport splits what each side sends by frame', async () => {
    const ws = wsTransport();
    const server = new RpcServer({ dispatch: createRouter({ relay: (req) => call(req.conn.caller!, 'p.inc', req.msg) }) });
    cleanup.push(() => server.close());
    const a = (await server.listen(ws, '127.0.0.1:0')) as { port: number };
    const peer = await ClientStream.connect({ transport: ws, address: `127.0.0.1:${a.port}`, keepaliveMs: 0, serve: createRouter({ 'p.inc': (req) => u32(readU32(req.msg) + 1) }) });
    cleanup.push(() => peer.destroy());
    const got = await Promise.all(Array.from({ length: 200 }, (_, i) => peer.call('relay', u32(i)).then((r) => readU32(r.msg))));
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });
});

describe('a peer whose dispatch throws', () => {
  it('answers the reverse call Internal even when its logger throws writing why (a line it cannot write must not leave the call unanswered)', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const throwing = { debug() {}, info() {}, warn() {}, error() { throw new Error('cannot write this line'); } };
    const peer = await s.connect({ keepaliveMs: 0, logger: throwing, serve: { dispatch() { throw new Error('dispatch bug'); } } });
    cleanup.push(() => peer.destroy());
    await peer.ping();
    const caller = s.server.openConnections()[0]!.caller!;
    // Bounded only as a safety net: the answer must be Internal, not a timeout.
    const err = await call(caller, 'x', new Uint8Array([1]), 5_000).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Internal });
    // The connection serves on.
    const again = await call(caller, 'x', new Uint8Array([1]), 5_000).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: ErrorCode.Internal });
    expect(peer.state).toBe('open');
  });
});
