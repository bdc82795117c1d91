import { ErrorCode, RpcError } from '@skein/core';
import { deferred, fromHex, rawConnect, startRazorServer, waitFor, within, cleanups } from '@skein/test-utils';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ClientStream, type ServerRequest } from '../src/index.js';
import { ClientHello } from '../src/client/hello.js';
import { HelloError, MAX_HELLO_ENTRIES, decodeHello, encodeHello, findEntry, readReceiveLimits, receiveLimitsEntry } from '../src/wire/hello.js';
import { HELLO_ACTION, REQUEST_HEADER_LENGTH, writeRequestHeader } from '../src/wire/protocol.js';
import { errorStringFrame, golden } from './golden.js';
import { rawPeer, readU32, startServer, transport, u32 } from './harness.js';

const cleanup = cleanups();

const OFFER = 0;
const ANSWER = 1;

describe('the hello msg', () => {
  it('encodes the default offer and the answers as the golden vectors say', () => {
    expect(encodeHello(OFFER, [receiveLimitsEntry(16 * 1024 * 1024, 64 * 1024 * 1024)])).toEqual(golden.helloOffer);
    expect(encodeHello(ANSWER, [receiveLimitsEntry(16 * 1024 * 1024, 64 * 1024 * 1024)])).toEqual(golden.helloAnswer.subarray(20));
    expect(encodeHello(ANSWER, [])).toEqual(golden.helloAnswerNothing.subarray(20));
    expect(new ClientHello({ maxMessage: 16 * 1024 * 1024, maxBlob: 64 * 1024 * 1024, maxAction: 1024 }, 1024 * 1024).request).toEqual(golden.helloRequestFull);
    expect(golden.helloRequestFull.subarray(32)).toEqual(golden.helloOfferFull);
  });

  it('skips kinds it does not know, and bytes past the fields it knows; the last of a kind counts', () => {
    // version 1, offer; kind 9 (unknown, 3 bytes); limits with 2 extra bytes; limits again.
    const b = fromHex(`00ff 01 00  0900 0300 aabbcc  0100 0a00 00010000 00020000 eeee  0100 0800 00040000 00080000 ff`);
    const hello = decodeHello(b, 2, b.length - 1);
    expect(hello.entries.map((e) => e.kind)).toEqual([9, 1, 1]);
    expect(readReceiveLimits(findEntry(hello, 1)!)).toEqual({ maxMessage: 0x400, maxBlob: 0x800 });
    expect(readReceiveLimits(hello.entries[1]!.value)).toEqual({ maxMessage: 0x100, maxBlob: 0x200 });
  });

  it('reads a version it does not know as offering nothing', () => {
    expect(decodeHello(fromHex('02 00 0100 0800 00000001 00000004'), 0, 14)).toEqual({ version: 2, role: 0, entries: [] });
  });

  it.each([
    ['no preamble', '01'],
    ['an entry header cut short', '01 00 0100 08'],
    ['a value running past the end', '01 00 0100 0800 000000'],
  ])('throws HelloError on %s', (_what, bytes) => {
    const b = fromHex(bytes);
    expect(() => decodeHello(b, 0, b.length)).toThrow(HelloError);
  });

  it('throws HelloError on receive limits too short to hold both numbers', () => {
    expect(() => readReceiveLimits(fromHex('00000001'))).toThrow(HelloError);
  });

  it('reads at most MAX_HELLO_ENTRIES entries: more is a HelloError, not an object per 4 bytes received', () => {
    const most = emptyEntries(MAX_HELLO_ENTRIES);
    expect(decodeHello(most, 0, most.length).entries).toHaveLength(MAX_HELLO_ENTRIES);
    const over = emptyEntries(MAX_HELLO_ENTRIES + 1);
    expect(() => decodeHello(over, 0, over.length)).toThrow(/entries/);
  });
});

/** A version-1 offer of `n` empty entries of an unknown kind (99). */
function emptyEntries(n: number): Uint8Array {
  const b = new Uint8Array(2 + 4 * n);
  b[0] = 1;
  for (let i = 0; i < n; i++) b[2 + 4 * i] = 99;
  return b;
}

describe('the server answers the hello', () => {
  it('with the limits it will hold its replies to, then answers calls as before', async () => {
    const s = await startServer({ 7: (r) => r.msg });
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    peer.send(new Uint8Array([...golden.helloRequest, ...golden.numericActionRequest]));
    const reply = fromHex('254d 01 00 02000000 0200000000000000 00000000 0908');
    await waitFor(() => peer.received().length >= golden.helloAnswer.length + reply.length);
    expect(new Uint8Array(peer.received())).toEqual(new Uint8Array([...golden.helloAnswer, ...reply]));
  });

  it('accepting nothing when the offer is of a version it does not know', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    const offer = Buffer.from(golden.helloRequest);
    offer[32] = 2; // hello version 2
    peer.send(offer);
    await waitFor(() => peer.received().length >= golden.helloAnswerNothing.length);
    expect(new Uint8Array(peer.received())).toEqual(golden.helloAnswerNothing);
  });

  it('with Decode when the offer holds more entries than a hello has, and the connection keeps working', async () => {
    const s = await startServer({ 7: (r) => r.msg });
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    // 100,000 empty entries in 400 KB, well under maxMessage: decoded, each would cost an object and a view.
    const msg = emptyEntries(100_000);
    const head = new Uint8Array(REQUEST_HEADER_LENGTH);
    writeRequestHeader(head, HELLO_ACTION, 0, 0, msg.length, 0);
    peer.send(new Uint8Array([...head, ...msg, ...golden.numericActionRequest]));
    const reply = fromHex('254d 01 00 02000000 0200000000000000 00000000 0908');
    await waitFor(() => peer.received().includes(Buffer.from(reply)));
    expect(new Uint8Array(peer.received())).toEqual(new Uint8Array([...errorStringFrame(0, 'rpc_decode'), ...reply]));
  });

  it('with Decode when the offer does not parse, and the connection keeps working', async () => {
    const s = await startServer({ 7: (r) => r.msg });
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    const cut = fromHex(`254d 01 00 00ffff7f 0000000000000000 0000000000000000 05000000 00000000  01 00 0100 08`);
    peer.send(new Uint8Array([...cut, ...golden.numericActionRequest]));
    const expected = [...errorStringFrame(0, 'rpc_decode'), ...fromHex('254d 01 00 02000000 0200000000000000 00000000 0908')];
    await waitFor(() => peer.received().length >= expected.length);
    expect(new Uint8Array(peer.received())).toEqual(new Uint8Array(expected));
  });

  it('never sends a razor v1 client anything it did not ask for: no hello, full-size replies as before', async () => {
    const big = new Uint8Array(17 * 1024 * 1024).fill(7); // over a Skein client's default 16 MiB
    const s = await startServer({ 7: () => big });
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    peer.send(golden.numericActionRequest);
    await waitFor(() => peer.received().length >= 20 + big.length, { what: 'the whole reply' });
    const got = peer.received();
    expect(got.length).toBe(20 + big.length);
    expect(got.subarray(0, 20).toString('hex')).toBe('254d0100' + '00001001' + '0200000000000000' + '00000000');
  });
});

describe('a call with a deadline alone made before the hello is answered', () => {
  // connect() resolves once the hello is written, before its answer can be read: a call made at
  // once meets a peer whose dialect is unknown. Its deadline must still reach a server that
  // speaks heads, or the server runs it on after the client gave up.
  it('waits for the answer and takes its deadline to the server, which stops the handler when the client gives up', async () => {
    const seen = deferred<ServerRequest>();
    const s = await startServer({ 1: (req) => (seen.resolve(req), new Promise(() => {})) }, { closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.destroy());
    expect(client.hello.dialect).toBe('pending');
    const call = client.call(1, undefined, { timeoutMs: 300 }).catch((e: RpcError) => e);
    const req = await within(seen.promise, 5000, 'the handler');
    expect(req.deadline).toBeDefined();
    expect(req.remainingMs()).toBeLessThanOrEqual(300);
    expect(((await call) as RpcError).code).toBe(ErrorCode.Timeout);
    await waitFor(() => req.signal.aborted, { what: 'the handler to be stopped' });
    expect((req.signal.reason as RpcError).code).toBe(ErrorCode.Timeout);
  });

  it('ends with Timeout, unsent (retry safe), when its deadline passes before any answer', async () => {
    const got: Buffer[] = [];
    const srv = net.createServer((sock) => sock.on('data', (c) => got.push(c)));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => srv.close(r)));
    // A keepaliveTimeoutMs under the call's timeout: the ping asking for a verdict is not the keepalive's, and closes nothing.
    const client = await ClientStream.connect({ transport, address: `127.0.0.1:${(srv.address() as net.AddressInfo).port}`, keepaliveMs: 0, keepaliveTimeoutMs: 50 });
    cleanup.push(() => client.destroy());
    const err = (await client.call(7, undefined, { timeoutMs: 300 }).catch((e) => e)) as RpcError;
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
    expect(client.inFlight).toBe(0);
    expect(client.state).toBe('open');
    // The hello and a ping (asking for a verdict), never the call.
    expect(Buffer.concat(got)).toEqual(Buffer.concat([Buffer.from(golden.helloRequestFull), pingFrame(1)]));
  });

  it.each([
    ['answers the hello with rpc_decode', {}],
    ['never answers the hello (keepalive off: a ping asks for the verdict)', { ignoreHello: true }],
  ])('goes plain, answered, to a razor v1 server that %s', async (_how, opts) => {
    const razor = await razorServer(opts);
    const client = await ClientStream.connect({ transport, address: razor.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const replies = await within(Promise.all([1, 2].map((i) => client.call(7, u32(i), { timeoutMs: 20_000 }))), 10_000, 'the answers');
    expect(replies.map((r) => readU32(r.msg))).toEqual([1, 2]);
    expect(client.hello.dialect).toBe('v1');
    // The hello, a ping, then the calls: nothing but v1 requests.
    expect(razor.seen).toEqual([0x7fff_ff00, 0, 7, 7]);
  });
});

describe('a stream opened before the hello is answered', () => {
  // As a held call does, a stream waiting for the answer must learn within a round trip that a
  // peer which drops the hello will never give one: it fails with Version (no streams), not at
  // its deadline, nor, without one, never.
  it.each([
    ['without a deadline', {}],
    ['with a deadline', { timeoutMs: 30_000 }],
  ])('fails with Version, %s, on a razor v1 server that never answers the hello (keepalive off)', async (_how, opts) => {
    const razor = await razorServer({ ignoreHello: true });
    const client = await ClientStream.connect({ transport, address: razor.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    expect(client.hello.dialect).toBe('pending');
    const stream = client.openStream(7, u32(1), opts);
    const err = await within(stream.result.then(() => undefined, (e: unknown) => e), 5000, 'the stream to be refused');
    expect(err).toMatchObject({ code: ErrorCode.Version });
    expect(client.hello.dialect).toBe('v1');
    // The hello and a ping asking for a verdict: nothing of the stream reached it.
    expect(razor.seen).toEqual([0x7fff_ff00, 0]);
  });
});

/**
 * A razor-rpc v1 server (the shared one, `@skein/test-utils`): answers a ping, echoes numeric
 * action 7, and answers any other action as razor does: `rpc_decode` (its defect 6), or, with
 * `echoAll`, an ok echo of the msg (a v1 server whose dispatch echoes whatever comes); with
 * `ignoreHello`, the hello gets no answer at all; with `answerFlag`, action 7's echo goes under
 * that flag. `seen` lists the actions it read.
 */
async function razorServer(opts: { echoAll?: boolean; answerFlag?: number; ignoreHello?: boolean } = {}) {
  const echo = (msg: Buffer) => (opts.answerFlag === undefined ? msg : { flag: opts.answerFlag, msg });
  const r = await startRazorServer({ 7: echo }, { unknown: opts.echoAll ? 'echo' : 'razor', unanswered: opts.ignoreHello ? [0x7fff_ff00] : [] });
  cleanup.push(() => r.close());
  return {
    address: r.address,
    get seen() {
      return r.seen.map((q) => q.action);
    },
  };
}

describe('a Skein client', () => {
  it("ends the connection of a server that answers a call with a stream frame's flag, failing the call with what it got", async () => {
    const s = await razorServer({ answerFlag: 3 });
    const stream = await ClientStream.connect({ transport, address: s.address });
    cleanup.push(() => stream.destroy());
    const err = (await stream.call(7, u32(1)).catch((e: unknown) => e)) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(ErrorCode.IO);
    expect(`${err.message} ${(err.cause as Error | undefined)?.message ?? ''}`).toMatch(/the answer to call \d+ has flag 3/);
    expect(stream.state).toBe('closed');
  });


  it('agrees on the extensions with a Skein server', async () => {
    const s = await startServer({ 7: (r) => r.msg });
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.close());
    expect(readU32((await client.call(7, u32(3))).msg)).toBe(3);
    expect(client.hello.dialect).toBe('agreed');
    expect(client.hello.accepted).toEqual([1, 2, 3, 4, 21, 24, 25, 26, 27]);
    expect(client.hello.agreed).toEqual({ cancel: true, maxHead: 8192, streams: { toServer: 1024 * 1024, toClient: 1024 * 1024 } });
  });

  it.each([
    ['answers the hello with rpc_decode', {}],
    ['echoes the hello back', { echoAll: true }],
  ])('keeps working with a razor v1 server that %s, and takes it for plain v1', async (_how, opts) => {
    const razor = await razorServer(opts);
    const client = await ClientStream.connect({ transport, address: razor.address });
    cleanup.push(() => client.destroy());
    // Sent at once, behind the unanswered hello.
    const replies = await Promise.all([1, 2, 3].map((i) => client.call(7, u32(i))));
    expect(replies.map((r) => readU32(r.msg))).toEqual([1, 2, 3]);
    expect(razor.seen).toEqual([0x7fff_ff00, 7, 7, 7]);
    expect(client.hello.dialect).toBe('v1');
    expect(client.state).toBe('open');
  });

  it('sends a razor v1 server nothing but v1 requests: a deadline, metadata and a signal are dropped, a stream is refused', async () => {
    const razor = await razorServer();
    const client = await ClientStream.connect({ transport, address: razor.address });
    cleanup.push(() => client.destroy());
    // Metadata waits for the hello's answer, then goes without its head.
    const opts = { timeoutMs: 5000, signal: new AbortController().signal, metadata: { authorization: 'Bearer t' } };
    const replies = await Promise.all([client.call(7, u32(1), opts), client.call(7, u32(2), { timeoutMs: 5000 })]);
    expect(replies.map((r) => readU32(r.msg))).toEqual([1, 2]);
    const stream = client.openStream(7);
    await expect(stream.result).rejects.toMatchObject({ code: ErrorCode.Version });
    const ac = new AbortController();
    const cancelled = client.call(7, u32(3), { signal: ac.signal }).catch((e) => e);
    ac.abort();
    await cancelled;
    await client.call(7, u32(4));
    // The hello, then calls and a ping (v1's own) only: no head, no open, no cancel (0x7fff_ff01..03) ever reached it.
    expect(razor.seen.filter((a) => a !== 7 && a !== 0)).toEqual([0x7fff_ff00]);
  });

  it('takes a peer that answers a later call before the hello for one that never will: calls with a signal or metadata go, plain', async () => {
    const razor = await razorServer({ ignoreHello: true });
    const client = await ClientStream.connect({ transport, address: razor.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    expect(readU32((await client.call(7, u32(1))).msg)).toBe(1);
    expect(client.hello.dialect).toBe('v1');
    const opts = { timeoutMs: 5000, signal: new AbortController().signal, metadata: { k: 'v' } };
    expect(readU32((await client.call(7, u32(2), opts)).msg)).toBe(2);
    // Neither a head nor anything else but v1 requests reached it.
    expect(razor.seen).toEqual([0x7fff_ff00, 7, 7]);
  });

  it('a call with metadata waits for the hello\'s answer, and times out unsent (retry safe) when none ever comes', async () => {
    const got: Buffer[] = [];
    const srv = net.createServer((sock) => sock.on('data', (c) => got.push(c)));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => srv.close(r)));
    const client = await ClientStream.connect({ transport, address: `127.0.0.1:${(srv.address() as net.AddressInfo).port}`, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const err = await client.call(7, undefined, { metadata: { k: 'v' }, timeoutMs: 100 }).catch((e) => e);
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
    expect(client.inFlight).toBe(0);
    // Only the hello and a ping (asking for a verdict) went out.
    expect(Buffer.concat(got)).toEqual(Buffer.concat([Buffer.from(golden.helloRequestFull), pingFrame(1)]));
  });

  it('answers a razor v1 client (raw frames, no hello) as razor would, with every extension on', async () => {
    const s = await startServer({ 7: (r) => r.msg });
    cleanup.push(() => s.server.close());
    const raw = await rawConnect(s.address);
    cleanup.push(() => raw.destroy());
    // A call, a ping, and a numeric action in the extension range: to a v1 peer it is just an unknown action.
    const reserved = fromHex(`254d 01 00 01ffff7f 0400000000000000 0000000000000000 00000000 00000000`);
    raw.write(new Uint8Array([...golden.numericActionRequest, ...golden.ping, ...reserved]));
    const expected = new Uint8Array([
      ...fromHex('254d 01 00 02000000 0200000000000000 00000000 0908'),
      ...golden.pong,
      ...errorStringFrame(4, 'rpc_method_notfound'),
    ]);
    await waitFor(() => raw.received().length >= expected.length, { what: 'three answers' });
    expect(new Uint8Array(raw.received())).toEqual(expected);
  });

  it('sends no hello when its own limits leave no room for the answer', async () => {
    const got = deferred<Buffer>();
    const srv = net.createServer((sock) => sock.on('data', (c) => got.resolve(c)));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => srv.close(r)));
    const client = await ClientStream.connect({
      transport,
      address: `127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
      limits: { maxMessage: 100 },
    });
    cleanup.push(() => client.destroy());
    void client.call(7, fromHex('0908')).catch(() => {});
    const first = await within(got.promise, 5000);
    expect(first.readUInt32LE(4)).toBe(7);
    expect(client.hello.dialect).toBe('v1');
  });

  it('fails only the call whose reply is over its limits, even when the call follows the hello at once', async () => {
    const s = await startServer({ big: () => new Uint8Array(5000), 7: (r) => r.msg });
    cleanup.push(() => s.server.close());
    const client = await s.connect({ limits: { maxMessage: 4096 } });
    cleanup.push(() => client.close());
    const [big, ok] = await Promise.allSettled([client.call('big'), client.call(7, u32(5))]);
    expect(big).toMatchObject({ status: 'rejected', reason: { code: ErrorCode.FrameTooLarge } });
    expect(ok.status === 'fulfilled' && readU32(ok.value.msg)).toBe(5);
    expect(client.state).toBe('open');
  });
});

/** A ping request (action 0, empty) with `seq`. */
function pingFrame(seq: number): Buffer {
  const h = Buffer.alloc(32);
  h.writeUInt16LE(0x4d25, 0);
  h[2] = 1;
  h.writeUInt32LE(seq, 8);
  return h;
}
