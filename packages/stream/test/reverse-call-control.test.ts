import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, deferred, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type ClientStreamOptions, type Dispatch } from '../src/index.js';
import { decodeHello, receiveLimitsEntry } from '../src/wire/hello.js';
import { ACTION_STRING_BIT, REQUEST_HEADER_LENGTH, writeRequestHeader } from '../src/wire/protocol.js';
import { REVERSE_ANSWER_ACTION, REVERSE_CALL_FLAG, reverseOfferEntry } from '../src/wire/reverse-calls.js';
import { REVERSE_CANCEL_FLAG, REVERSE_CONTROL_ENTRY, REVERSE_CONTROL_KIND, TIMED_REVERSE_CALL_FLAG } from '../src/wire/reverse-control.js';
import { answersIn, callerOf, scriptedReverseServer, sendBy } from './reverse-harness.js';
import { helloOffer, rawPeer, readU32, recordingTransport, requestFrame, requestFrames, responseFrame, responseFrames, startServer, transport, u32 } from './harness.js';

/*
 * Reverse deadlines and cancels (docs/protocol.md, "Calls both ways"; wire/reverse-control.ts):
 * a reverse call's deadline reaches the handler on the connecting side, and a call the server
 * gives up on is cancelled there, its window slot free at once; a side that did not offer them
 * (an older Skein client) is sent neither and keeps today's behaviour.
 */

const cleanup = cleanups();
const MiB = 1024 * 1024;
const utf8 = new TextEncoder();

/** A reverse answer a raw connecting side sends: ok, `msg`, with `blob`. */
function okAnswer(seq: number, msg: Uint8Array, blob = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(REQUEST_HEADER_LENGTH + 1 + msg.length + blob.length);
  writeRequestHeader(out, REVERSE_ANSWER_ACTION, 0, seq, 1 + msg.length, blob.length);
  out[REQUEST_HEADER_LENGTH] = 0;
  out.set(msg, REQUEST_HEADER_LENGTH + 1);
  out.set(blob, REQUEST_HEADER_LENGTH + 1 + msg.length);
  return out;
}

/** A timed reverse call as a server sends it: `remaining_ms | action u32 | action | msg`. */
function timedCall(seq: number, action: string, remainingMs: number, msg = new Uint8Array(0)): Uint8Array {
  const name = utf8.encode(action);
  const body = new Uint8Array(8 + name.length + msg.length);
  const view = new DataView(body.buffer);
  view.setUint32(0, remainingMs, true);
  view.setUint32(4, (ACTION_STRING_BIT | name.length) >>> 0, true);
  body.set(name, 8);
  body.set(msg, 8 + name.length);
  return responseFrame(TIMED_REVERSE_CALL_FLAG, seq, body);
}

/** A Skein client of `srv` that serves `serve` (keepalive off: the scripted server answers no ping). */
async function servingPeer(srv: { address: string }, serve: Dispatch, more: Partial<ClientStreamOptions> = {}): Promise<ClientStream> {
  const peer = await ClientStream.connect({ transport, address: srv.address, keepaliveMs: 0, serve, ...more });
  cleanup.push(() => peer.destroy());
  return peer;
}

describe('reverse calls with deadlines and cancels (a connecting side that offers them)', () => {
  it("hands the call's deadline to the handler on the connecting side, as a server handler sees a forward call's", async () => {
    const s = await startServer({}, { reverseCalls: { timeoutMs: 7_000 } });
    cleanup.push(() => s.server.close());
    const seen: { headed: boolean; deadline: number | undefined; remaining: number | undefined }[] = [];
    const peer = await s.connect({ keepaliveMs: 0, serve: createRouter({ 'p.x': (req) => (seen.push({ headed: req.headed, deadline: req.deadline, remaining: req.remainingMs() }), req.msg) }) });
    cleanup.push(() => peer.destroy());
    const caller = await callerOf(s.server);
    // Its own timeout, then the server's default for reverse calls.
    expect(readU32(await sendBy(caller, 'p.x', u32(1), { timeoutMs: 3_000 }))).toBe(1);
    expect(readU32(await sendBy(caller, 'p.x', u32(2)))).toBe(2);
    expect(seen.map((x) => x.headed)).toEqual([true, true]);
    expect(seen[0]!.deadline).toBeTypeOf('number');
    expect(seen[0]!.remaining).toBeGreaterThan(0);
    expect(seen[0]!.remaining).toBeLessThanOrEqual(3_000);
    // Loopback takes far less than the 4 s between the two.
    expect(seen[1]!.remaining).toBeGreaterThan(3_000);
    expect(seen[1]!.remaining).toBeLessThanOrEqual(7_000);
  });

  it("cancels a call whose caller aborts: the handler's signal aborts with Cancelled, its late answer is never sent, and the cancel is on the wire as docs/protocol.md shows", async () => {
    const rec = recordingTransport();
    const server = new RpcServer({ dispatch: createRouter({}) });
    cleanup.push(() => server.close());
    const a = (await server.listen(rec.transport, '127.0.0.1:0')) as { port: number };
    const reasons: unknown[] = [];
    const started = deferred();
    let finish!: () => void;
    const peer = await ClientStream.connect({
      transport: rec.transport,
      address: `127.0.0.1:${a.port}`,
      keepaliveMs: 0,
      serve: createRouter({
        // Hears its signal, but answers only when the test says: a handler that runs on after a cancel.
        'p.x': (req) =>
          new Promise<Uint8Array>((resolve) => {
            req.signal.addEventListener('abort', () => reasons.push(req.signal.reason));
            finish = () => resolve(req.msg);
            started.resolve();
          }),
      }),
    });
    cleanup.push(() => peer.destroy());
    const caller = await callerOf(server);
    const ac = new AbortController();
    const out = sendBy(caller, 'p.x', u32(1), { signal: ac.signal, timeoutMs: 60_000 });
    await started.promise;
    ac.abort();
    await expect(out).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    await waitFor(() => reasons.length === 1, { what: "the handler's signal" });
    expect(reasons[0]).toBeInstanceOf(RpcError);
    expect(reasons[0]).toMatchObject({ code: ErrorCode.Cancelled, message: 'p.x: cancelled by the server' });
    expect(caller.inFlight).toBe(0);
    // Its answer, late: nobody reads it, so nothing is written. (A round trip after it: what the peer wrote before its ping is in the record.)
    finish();
    await new Promise((r) => setImmediate(r));
    await peer.ping();
    const wire = Buffer.concat(rec.writes).toString('hex');
    // The cancel: a response header with flag 0x1B, seq 1, no body.
    expect(wire).toContain('254d011b' + '00000000' + '0100000000000000' + '00000000');
    // No reverse answer for seq 1 (action 0x7FFF_FF18).
    expect(wire).not.toContain('254d0100' + '18ffff7f' + '0100000000000000');
  });

  it('frees the window slot when it cancels: with a window of 1 the next call goes out while the cancelled handler still runs', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const order: number[] = [];
    const release = new Map<number, () => void>();
    const peer = await s.connect({
      keepaliveMs: 0,
      serveWindow: 1,
      // Ignores its signal: runs until released.
      serve: createRouter({ 'p.x': (req) => new Promise<Uint8Array>((resolve) => (order.push(readU32(req.msg)), release.set(readU32(req.msg), () => resolve(req.msg)))) }),
    });
    cleanup.push(() => peer.destroy());
    const caller = await callerOf(s.server);
    const ac = new AbortController();
    const first = sendBy(caller, 'p.x', u32(1), { signal: ac.signal });
    await waitFor(() => order.length === 1);
    ac.abort();
    await expect(first).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    // By its timeout this time: cancelled too (or answered Timeout by the other side, whichever is first).
    const second = sendBy(caller, 'p.x', u32(2), { timeoutMs: 200 });
    await within(
      waitFor(() => order.length === 2),
      10_000,
      'the second call sent while the first still runs',
    );
    await expect(second).rejects.toMatchObject({ code: ErrorCode.Timeout, retry: 'idempotent' });
    release.get(1)!();
    const third = sendBy(caller, 'p.x', u32(3));
    await waitFor(() => order.length === 3);
    release.get(3)!();
    expect(readU32(await third)).toBe(3);
    release.get(2)!();
    await peer.ping();
    expect([caller.inFlight, caller.queued, peer.state]).toEqual([0, 0, 'open']);
  });
});

describe('the hello', () => {
  it('names deadlines and cancels again in its answer to a later hello, which cannot take them back', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    peer.send(helloOffer([receiveLimitsEntry(MiB, MiB), reverseOfferEntry(1), REVERSE_CONTROL_ENTRY]));
    // A later hello that offers neither: the connection keeps what the first agreed.
    peer.send(helloOffer([receiveLimitsEntry(MiB, MiB)]));
    const answers = await waitFor(() => {
      const got = responseFrames(peer.received()).filter((f) => f.seq === 0);
      return got.length === 2 ? got : undefined;
    });
    for (const a of answers) expect(decodeHello(a.body, 0, a.body.length).entries.map((e) => e.kind)).toEqual(expect.arrayContaining([20, REVERSE_CONTROL_KIND]));
    expect((await callerOf(s.server)).controls).toBe(true);
  });
});

describe('the connecting side, against a server that sends deadlines and cancels', () => {
  it('aborts the handler\'s signal with Timeout at the deadline and answers rpc_timeout; a deadline passed already is answered so unrun', async () => {
    const srv = await scriptedReverseServer(cleanup, [REVERSE_CONTROL_ENTRY]);
    const reasons: unknown[] = [];
    const ran: number[] = [];
    const peer = await servingPeer(
      srv,
      createRouter({
        'p.x': (req) =>
          new Promise<Uint8Array>(() => {
            ran.push(readU32(req.msg));
            req.signal.addEventListener('abort', () => reasons.push(req.signal.reason));
          }),
      }),
    );
    const sock = await srv.socket;
    await waitFor(() => requestFrames(srv.received()).length >= 1, { what: 'the hello read' });
    sock.write(timedCall(1, 'p.x', 100, u32(1)));
    sock.write(timedCall(2, 'p.x', 0, u32(2)));
    await waitFor(() => answersIn(srv.received()).length === 2, { what: 'both answered', timeoutMs: 10_000 });
    expect(answersIn(srv.received())).toEqual([
      { seq: 2, flag: 2, text: 'rpc_timeout:p.x: deadline passed' },
      { seq: 1, flag: 2, text: 'rpc_timeout:p.x: deadline passed' },
    ]);
    expect(ran).toEqual([1]);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatchObject({ code: ErrorCode.Timeout, message: 'p.x: deadline passed' });
  });

  it('runs at most twice its window of handlers for a server that cancels every call it sends: past that, refused Overloaded, unrun', async () => {
    const srv = await scriptedReverseServer(cleanup, [REVERSE_CONTROL_ENTRY]);
    let ran = 0;
    const release: (() => void)[] = [];
    // Ignores its signal: runs until released.
    const handler = (req: { msg: Uint8Array }) => new Promise<Uint8Array>((resolve) => (ran++, release.push(() => resolve(req.msg))));
    const peer = await servingPeer(srv, createRouter({ 'p.x': handler }), { serveWindow: 2 });
    const sock = await srv.socket;
    await waitFor(() => requestFrames(srv.received()).length >= 1, { what: 'the hello read' });
    for (let seq = 1; seq <= 6; seq++) {
      sock.write(timedCall(seq, 'p.x', 60_000, u32(seq)));
      sock.write(responseFrame(REVERSE_CANCEL_FLAG, seq, new Uint8Array(0)));
    }
    await waitFor(() => answersIn(srv.received()).length === 2, { what: 'the refusals' });
    expect(answersIn(srv.received())).toEqual([
      { seq: 5, flag: 2, text: 'rpc_overloaded' },
      { seq: 6, flag: 2, text: 'rpc_overloaded' },
    ]);
    expect(ran).toBe(4);
    // Once they end, it runs more; the cancelled ones' late answers are never written.
    for (const r of release.splice(0)) r();
    await new Promise((r) => setImmediate(r));
    sock.write(timedCall(7, 'p.x', 60_000, u32(7)));
    await waitFor(() => ran === 5);
    release.shift()!();
    await waitFor(() => answersIn(srv.received()).length === 3);
    expect(answersIn(srv.received())[2]).toEqual({ seq: 7, flag: 0, text: undefined });
    expect(peer.state).toBe('open');
  });

  it('never runs a call held for its send buffer to drain that the server cancelled meanwhile, nor one whose deadline passed meanwhile', async () => {
    const srv = await scriptedReverseServer(cleanup, [REVERSE_CONTROL_ENTRY], true);
    const ran: string[] = [];
    const peer = await servingPeer(srv, createRouter({ big: () => (ran.push('big'), { msg: new Uint8Array(0), blob: new Uint8Array(48 * MiB) }), 'p.x': (req) => (ran.push(`x${readU32(req.msg)}`), req.msg) }));
    // The client's own call (seq 1): its answer, sent after the frames below, says the client read them all.
    const marker = peer.call('mark');
    const sock = await srv.socket;
    // 48 MiB of answer, more than the kernel's buffers on both sides of loopback hold: the server reads none, the send buffer stays full.
    sock.write(timedCall(1, 'big', 60_000));
    sock.write(timedCall(2, 'p.x', 60_000, u32(2)));
    sock.write(responseFrame(REVERSE_CANCEL_FLAG, 2, new Uint8Array(0)));
    sock.write(timedCall(3, 'p.x', 50, u32(3)));
    sock.write(timedCall(4, 'p.x', 60_000, u32(4)));
    sock.write(responseFrame(0, 1, new Uint8Array(0)));
    await marker;
    expect(ran).toEqual(['big']);
    // The third's deadline passes while it is held: answered Timeout (queued behind the 48 MiB), its slot free.
    const serving = (peer as unknown as { serving: { inFlight: number } }).serving;
    await waitFor(() => serving.inFlight === 2, { what: "the held call's deadline" });
    sock.resume();
    // 48 MiB through loopback (counted as it comes, joined once): generous, on a loaded machine.
    await waitFor(() => srv.receivedBytes() > 48 * MiB, { what: 'the big answer', timeoutMs: 100_000, intervalMs: 50 });
    await waitFor(() => answersIn(srv.received()).length === 3, { what: 'the answers', intervalMs: 200 });
    expect(answersIn(srv.received())).toEqual([
      { seq: 1, flag: 0, text: undefined },
      { seq: 3, flag: 2, text: 'rpc_timeout:p.x: deadline passed' },
      { seq: 4, flag: 0, text: undefined },
    ]);
    expect(ran).toEqual(['big', 'x4']);
  }, 120_000);

  it("aborts a running handler's signal with IO when the connection is lost", async () => {
    const srv = await scriptedReverseServer(cleanup, [REVERSE_CONTROL_ENTRY]);
    const reasons: unknown[] = [];
    const started = deferred();
    const peer = await servingPeer(
      srv,
      createRouter({
        'p.x': (req) =>
          new Promise<Uint8Array>(() => {
            req.signal.addEventListener('abort', () => reasons.push(req.signal.reason));
            started.resolve();
          }),
      }),
    );
    const sock = await srv.socket;
    sock.write(timedCall(1, 'p.x', 60_000));
    await started.promise;
    sock.destroy();
    await waitFor(() => reasons.length === 1, { what: "the handler's signal" });
    expect(reasons[0]).toMatchObject({ code: ErrorCode.IO });
  });
});

describe('a connecting side that does not offer deadlines and cancels', () => {
  it('an older Skein client is sent neither: untimed reverse calls, no cancel, and a given-up call keeps its slot until answered', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    // An older client's hello: receive limits and calls both ways (window 1), no kind 22.
    peer.send(helloOffer([receiveLimitsEntry(MiB, MiB), reverseOfferEntry(1)]));
    const caller = await callerOf(s.server);
    expect(caller.controls).toBe(false);
    const ac = new AbortController();
    const first = sendBy(caller, 'p.x', new Uint8Array([1, 2, 0, 0]), { signal: ac.signal });
    const second = sendBy(caller, 'p.x', u32(2), { timeoutMs: 100 });
    ac.abort();
    await expect(first).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    // Waited for the slot the first still holds, and never went out.
    await expect(second).rejects.toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
    const third = sendBy(caller, 'p.x', u32(3));
    expect([caller.inFlight, caller.queued]).toEqual([1, 1]);
    // A round trip: what the server sent before its pong has arrived.
    peer.send(requestFrame(0, 5));
    await waitFor(() => responseFrames(peer.received()).some((f) => f.seq === 5));
    const frames = responseFrames(peer.received());
    expect(frames.map((f) => [f.flag, f.seq])).toEqual([
      [0, 0],
      [REVERSE_CALL_FLAG, 1],
      [0, 5],
    ]);
    // Its hello's answer names calls both ways, not deadlines and cancels.
    const kinds = decodeHello(frames[0]!.body, 0, frames[0]!.body.length).entries.map((e) => e.kind);
    expect(kinds).toContain(20);
    expect(kinds).not.toContain(REVERSE_CONTROL_KIND);
    // The untimed reverse call, as docs/protocol.md shows it.
    expect(peer.received().toString('hex')).toContain('254d0118' + '0b000000' + '0100000000000000' + '00000000' + '03000080' + '702e78' + '01020000');
    // Its answer frees the slot: the third goes out, untimed too.
    peer.send(okAnswer(1, u32(1)));
    await waitFor(() => responseFrames(peer.received()).some((f) => f.seq === 2 && f.flag === REVERSE_CALL_FLAG));
    peer.send(okAnswer(2, u32(33)));
    expect(readU32(await third)).toBe(33);
    expect(responseFrames(peer.received()).some((f) => f.flag === TIMED_REVERSE_CALL_FLAG || f.flag === REVERSE_CANCEL_FLAG)).toBe(false);
  });
});

describe('a broken or hostile connecting side', () => {
  it('that answers nothing holds no slot on the server: each call it is sent times out and is cancelled, and the answers it sends after the cancels are dropped', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    peer.send(helloOffer([receiveLimitsEntry(16 * MiB, 16 * MiB), reverseOfferEntry(1), REVERSE_CONTROL_ENTRY]));
    const caller = await callerOf(s.server);
    expect(caller.controls).toBe(true);
    const N = 20;
    // One after another through a window of 1: each goes out only once the one before it freed the slot.
    for (let i = 1; i <= N; i++) await expect(sendBy(caller, 'p.x', u32(i), { timeoutMs: 30 })).rejects.toMatchObject({ code: ErrorCode.Timeout, retry: 'idempotent' });
    expect([caller.inFlight, caller.queued]).toEqual([0, 0]);
    await waitFor(() => responseFrames(peer.received()).filter((f) => f.flag === REVERSE_CANCEL_FLAG).length === N, { what: 'the cancels' });
    const frames = responseFrames(peer.received());
    const timed = frames.filter((f) => f.flag === TIMED_REVERSE_CALL_FLAG);
    expect(timed.map((f) => f.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(frames.filter((f) => f.flag === REVERSE_CANCEL_FLAG).map((f) => f.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // Each carried what its caller still waited: at most its 30 ms.
    expect(timed.every((f) => readU32(f.body) <= 30)).toBe(true);
    // The answers, late, each with a blob of 256 KiB: read and dropped, none settles anything.
    const settled: number[] = [];
    const next = sendBy(caller, 'p.x', u32(99), { timeoutMs: 30_000 }).then((m) => (settled.push(readU32(m)), m));
    for (let i = 1; i <= N; i++) peer.send(okAnswer(i, u32(1000 + i), new Uint8Array(256 * 1024)));
    await waitFor(() => responseFrames(peer.received()).some((f) => f.seq === N + 1 && f.flag === TIMED_REVERSE_CALL_FLAG));
    expect(settled).toEqual([]);
    peer.send(okAnswer(N + 1, u32(99)));
    expect(readU32(await next)).toBe(99);
    expect([caller.inFlight, caller.queued, s.server.connections]).toEqual([0, 0, 1]);
  });
});
