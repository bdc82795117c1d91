import { ErrorCode, RpcError, parseAddress, type Address, type FrameConn, type FrameSpec, type Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { uwsTransport, wsTransport } from '@skein/transport-ws';
import { claimingRequest, claimingResponse, arrayBuffersSettled, memoryLogger, scoped, suiteCerts, testTls, tmpSocketPath, waitFor, whenTestFinished, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, DEFAULT_LIMITS, RpcServer, createRouter, protocol, requestFrameSpec, responseFrameSpec } from '../src/index.js';
import { golden } from './golden.js';

// Every length a peer's header claims (action, message, blob; an answer's message, blob, error
// string), in every kind of frame (requests, hellos, call heads, stream items, credits; answers,
// stream items, server pings, goodbyes), is checked before anything is held for it, on each of a
// Node server's listeners (TCP, Unix socket, TLS, ws, wss, uWebSockets.js) and a client's
// transports: a claim past the limits closes that connection alone, with FrameTooLarge (the
// server's reply) or IO naming the limit (the client's call); a claim within them holds what
// arrived, never what was claimed. The conformance matrix covers the message length on Bun's and
// Deno's TCP and TLS rows, claimed-lengths-runtimes their Unix socket and WebSocket listeners;
// the lengths WebSocket frame headers claim to uWebSockets.js, transport-ws's uws-claimed-lengths.

const MiB = 1 << 20;
const HANG_MS = 10_000;
/** What a claim's 1 KiB is followed by: nothing, for as long as the connection is watched. */
const SENT = 1024;

const certs = suiteCerts();
const { serverTls, clientTls } = testTls(certs);
const tcp = tcpTransport(nodeRuntime);
const ws = wsTransport();
/**
 * `listen` and `dial`: a server's transport and a client's (made when asked: the certificates
 * exist from beforeAll). `messages`: frames travel in WebSocket messages and never span one, so
 * a claim past its message's end is a malformed frame at once. `client`: also a client's row
 * (uWebSockets.js is a server only: its clients are ws's).
 */
const LISTENERS: { name: string; listen: () => Transport; dial: () => Transport; on: () => string; messages: boolean; client: boolean }[] = [
  { name: 'TCP', listen: () => tcp, dial: () => tcp, on: () => '127.0.0.1:0', messages: false, client: true },
  { name: 'Unix socket', listen: () => tcp, dial: () => tcp, on: () => `unix:${tmpSocketPath()}`, messages: false, client: true },
  { name: 'TLS', listen: () => tcpTransport(nodeRuntime, { tls: serverTls() }), dial: () => tcpTransport(nodeRuntime, { tls: clientTls() }), on: () => '127.0.0.1:0', messages: false, client: true },
  { name: 'WebSocket', listen: () => ws, dial: () => ws, on: () => '127.0.0.1:0', messages: true, client: true },
  { name: 'wss', listen: () => wsTransport({ tls: serverTls() }), dial: () => wsTransport({ tls: clientTls() }), on: () => '127.0.0.1:0', messages: true, client: true },
  { name: 'uWebSockets.js', listen: () => uwsTransport(), dial: () => ws, on: () => '127.0.0.1:0', messages: true, client: false },
];
type Listener = (typeof LISTENERS)[number];

const text = (a: Address): string => ('path' in a ? `unix:${a.path}` : `${a.host}:${a.port}`);

/** A request header for a string action of `actionLength` bytes, with a message and a blob of the lengths given. */
const request = (actionLength: number, msgLength: number, blobLength: number, seq = 1): Uint8Array => claimingRequest({ actionLength, msgLength, blobLength, seq });

/** The numeric actions of the frames a client sends besides calls (docs/protocol.md): each a request header whose lengths it chooses. */
const HELLO = 0x7fff_ff00;
const CALL_HEAD = 0x7fff_ff02;
const STREAM_ITEM = 0x7fff_ff04;
const CREDIT = 0x7fff_ff06;
/** The flags of what a server sends besides answers: a stream's item, a server ping, a goodbye, a reverse call. */
const ITEM_FLAG = 3;
const PING_FLAG = 0x19;
const GOODBYE_FLAG = 0x1d;
const REVERSE_CALL_FLAG = 0x18;

/**
 * Waits until `arrived` holds (the code under test has read what was sent: an event, not a
 * time), sampling the process's ArrayBuffer memory all along; returns the most it grew over
 * `before`. A reservation made at a header shows from the moment the header is read.
 */
async function growthUntil(before: number, arrived: () => boolean, what: string): Promise<number> {
  let most = 0;
  const sample = (): void => void (most = Math.max(most, process.memoryUsage().arrayBuffers - before));
  await waitFor(() => (sample(), arrived()), { timeoutMs: HANG_MS, intervalMs: 5, what });
  // Once more after the event: what the read reserved is held at least until the next collection.
  sample();
  return most;
}

/** `t`, recording the connections it makes and accepts: their receivedBytes tell what of the claims has been read. */
function watched(t: Transport): { transport: Transport; conns: FrameConn[]; received: () => number } {
  const conns: FrameConn[] = [];
  const transport: Transport = {
    ...t,
    listen: (a, spec, accept) => t.listen(a, spec, (c) => (conns.push(c), accept(c))),
    connect: async (a, spec, o) => {
      const c = await t.connect(a, spec, o);
      conns.push(c);
      return c;
    },
  };
  return { transport, conns, received: () => conns.reduce((n, c) => n + (c.receivedBytes ?? Number.NaN), 0) };
}

/** Reads replies as a client does; sends what it is given as header-only frames, whatever they claim (so the transport frames nothing by them). */
const peerSpec: FrameSpec = { ...responseFrameSpec(DEFAULT_LIMITS), outbound: { headerLength: protocol.REQUEST_HEADER_LENGTH, bodyLength: () => 0 } };

/** A connection of `l`'s client transport that wrote `header` and SENT bytes after it. */
async function claimer(l: Listener, address: string, header: Uint8Array): Promise<{ replies: Uint8Array[]; closed: Promise<void>; conn: FrameConn }> {
  const conn = await l.dial().connect(parseAddress(address), peerSpec, { timeoutMs: HANG_MS });
  whenTestFinished(() => conn.close());
  const replies: Uint8Array[] = [];
  const closed = new Promise<void>((resolve) => conn.bind({ frame: (b, s, e) => void replies.push(b.slice(s, e)), drain: () => {}, close: () => resolve() }));
  conn.write(header);
  conn.write(new Uint8Array(SENT).fill(0x61));
  conn.flush();
  return { replies, closed, conn };
}

/** A Node server on `l` echoing `Svc.echo`, and a client of it connected before any stranger: it must be served throughout. */
async function serve(l: Listener) {
  const logger = memoryLogger();
  const server = new RpcServer({ dispatch: createRouter({ 'Svc.echo': (req) => req.msg }), logger });
  whenTestFinished(() => server.close());
  const listening = watched(l.listen());
  const address = text(await server.listen(listening.transport, l.on()));
  const honest = await ClientStream.connect({ transport: l.dial(), address });
  whenTestFinished(() => honest.destroy());
  const served = async (): Promise<void> => expect([...(await within(honest.call('Svc.echo', new Uint8Array([7])), HANG_MS, 'the honest call')).msg]).toEqual([7]);
  await served();
  return { address, logger, served, received: listening.received };
}

/** A header over a limit, the FrameTooLarge detail its reply must carry. */
const OVER_LIMITS: [string, Uint8Array, RegExp][] = [
  ['an action of 2^31-1 bytes', request(0x7fff_ffff, 0, 0), /^action of 2147483647 bytes exceeds the server's limit of 1024$/],
  ['an action one byte over maxAction', request(DEFAULT_LIMITS.maxAction + 1, 0, 0), /^action of 1025 bytes exceeds the server's limit of 1024$/],
  ['a blob of 2^31-1 bytes', request(8, 0, 0x7fff_ffff), /^blob of 2147483647 bytes exceeds the server's limit of 67108864$/],
  ['a blob of 2^32-1 bytes (past the wire\'s ceiling)', request(8, 0, 0xffff_ffff), /^blob of 4294967295 bytes exceeds the server's limit of 67108864$/],
  ['a blob one byte over maxBlob', request(8, 0, DEFAULT_LIMITS.maxBlob + 1), /^blob of 67108865 bytes exceeds the server's limit of 67108864$/],
  ['a hello whose offer claims 2^32-1 bytes', claimingRequest({ action: HELLO, msgLength: 0xffff_ffff, blobLength: 0, seq: 0 }), /^message of 4294967295 bytes exceeds the server's limit of 16777216$/],
  ['a call head one byte over maxMessage', claimingRequest({ action: CALL_HEAD, msgLength: DEFAULT_LIMITS.maxMessage + 1, blobLength: 0 }), /^message of 16777217 bytes exceeds the server's limit of 16777216$/],
  ['a stream item with a blob of 2^31-1 bytes', claimingRequest({ action: STREAM_ITEM, msgLength: 0, blobLength: 0x7fff_ffff }), /^blob of 2147483647 bytes exceeds the server's limit of 67108864$/],
  ['a credit frame with a body of 2^31-1 bytes', claimingRequest({ action: CREDIT, msgLength: 4, blobLength: 0x7fff_ffff }), /^blob of 2147483647 bytes exceeds the server's limit of 67108864$/],
];

/** Headers at the limits, one per kind of frame a client sends: each claims up to 81 MiB. */
const AT_LIMITS: Uint8Array[] = [
  request(DEFAULT_LIMITS.maxAction, DEFAULT_LIMITS.maxMessage, DEFAULT_LIMITS.maxBlob, 1),
  request(DEFAULT_LIMITS.maxAction, DEFAULT_LIMITS.maxMessage, DEFAULT_LIMITS.maxBlob, 2),
  claimingRequest({ action: HELLO, msgLength: DEFAULT_LIMITS.maxMessage, blobLength: DEFAULT_LIMITS.maxBlob, seq: 0 }),
  claimingRequest({ action: CALL_HEAD, msgLength: DEFAULT_LIMITS.maxMessage, blobLength: DEFAULT_LIMITS.maxBlob, seq: 3 }),
  claimingRequest({ action: STREAM_ITEM, msgLength: DEFAULT_LIMITS.maxMessage, blobLength: DEFAULT_LIMITS.maxBlob, seq: 4 }),
  claimingRequest({ action: STREAM_ITEM, msgLength: DEFAULT_LIMITS.maxMessage, blobLength: DEFAULT_LIMITS.maxBlob, seq: 5 }),
  claimingRequest({ action: CREDIT, msgLength: DEFAULT_LIMITS.maxMessage, blobLength: DEFAULT_LIMITS.maxBlob, seq: 6 }),
  request(DEFAULT_LIMITS.maxAction, DEFAULT_LIMITS.maxMessage, DEFAULT_LIMITS.maxBlob, 7),
];

// Each case has its own server and connections, and holds no memory a mutant could hide behind: run at once.
describe.concurrent.each(LISTENERS)('a Node server on $name, against headers claiming lengths', (l) => {
  it('refuses an action, message or blob length past its limit at the header, in any frame: FrameTooLarge naming it, a warn line, that connection alone closed', scoped(async () => {
    const { address, logger, served } = await serve(l);
    const bad = await Promise.all(OVER_LIMITS.map(([, header]) => claimer(l, address, header)));
    await within(Promise.all(bad.map((b) => b.closed)), HANG_MS, 'the server to close every connection that claimed too much');
    const replies = bad.map(({ replies }) => {
      const h = protocol.readResponseHeader(replies[0]!.subarray(0, protocol.RESPONSE_HEADER_LENGTH));
      const err = protocol.readErrorBytes(replies[0]!.subarray(protocol.RESPONSE_HEADER_LENGTH)) as RpcError;
      return { count: replies.length, flag: h.flag, code: err.code, message: err.message };
    });
    expect(replies).toEqual(OVER_LIMITS.map(([, , detail]) => ({ count: 1, flag: 2, code: ErrorCode.FrameTooLarge, message: expect.stringMatching(detail) })));
    // Said once per kind (numbers blanked): an action's, a message's and a blob's.
    await waitFor(() => logger.lines.filter((x) => x.level === 'warn' && x.msg === 'closing connection: malformed frame').length >= 3, { timeoutMs: HANG_MS, what: 'the warn lines' });
    const reasons = logger.lines.filter((x) => x.level === 'warn').map((x) => String(x.obj.reason));
    expect(reasons).toEqual(expect.arrayContaining([/^action of \d+ bytes exceeds 1024$/, /^message of \d+ bytes exceeds 16777216$/, /^blob of \d+ bytes exceeds 67108864$/].map((r) => expect.stringMatching(r))));
    await served();
  }));
});

// Memory is the process's: a case watched while another frees what it held would be hidden, so these run one at a time.
describe.each(LISTENERS)('a Node server on $name, against headers claiming lengths within its limits', (l) => {
  it('holds what arrived of each kind of frame claimed at the limits (calls, hello, call head, stream items, credit), not the 81 MiB each claims', scoped(async () => {
    const { address, logger, served, received } = await serve(l);
    const before = await arrayBuffersSettled();
    const base = received();
    const claims = await Promise.all(AT_LIMITS.map((header) => claimer(l, address, header)));
    // The event: over a socket, the server's connections have read every byte written; over
    // WebSocket (uWS counts no bytes) each claim was read whole and closed at its message's end.
    let closed = 0;
    for (const c of claims) void c.closed.then(() => closed++);
    const arrived = l.messages ? () => closed === claims.length : () => received() - base >= claims.length * (protocol.REQUEST_HEADER_LENGTH + SENT);
    const grew = await growthUntil(before, arrived, 'the server to read the claims');
    // 8 x 81 MiB claimed, 8 KiB sent.
    expect(grew).toBeLessThan(16 * MiB);
    // None answered: over a socket each waits for the rest of its frame (until readTimeoutMs); over
    // WebSocket a frame never spans messages, so each is closed at its message's end.
    if (l.messages) {
      await waitFor(() => logger.lines.filter((x) => x.level === 'warn' && /^message ends mid-frame \(frame needs 8388\d{4} bytes, message has 10\d\d left\)$/.test(String(x.obj.reason))).length >= 1, { timeoutMs: HANG_MS, what: 'the warn line' });
    }
    expect(claims.map((c) => c.replies.length)).toEqual(claims.map(() => 0));
    await served();
  }));
});

/** Header-only frames out (what it sends, whatever it claims: 1-byte frames, so nothing is cut by them); requests in, read as a server does. */
const hostileSpec: FrameSpec = { ...requestFrameSpec(DEFAULT_LIMITS), outbound: { headerLength: 1, bodyLength: () => 0 } };

/**
 * A server on `l` that answers the hello as a Skein server does, then the call of seq 1 with
 * `header` and SENT bytes, and stalls; `claimed` settles once that is written.
 */
async function hostileServer(l: Listener, header: Uint8Array): Promise<{ address: string; claimed: Promise<void> }> {
  let wrote!: () => void;
  const claimed = new Promise<void>((resolve) => (wrote = resolve));
  const listener = await l.listen().listen(parseAddress(l.on()), hostileSpec, (conn) => {
    whenTestFinished(() => conn.close());
    conn.bind({
      frame: (b, s) => {
        const seq = protocol.readSeq(b, s + protocol.SEQ_AT);
        if (seq === 0) conn.write(golden.helloAnswerFull);
        conn.flush();
        if (seq !== 1) return true;
        conn.write(header);
        conn.write(new Uint8Array(SENT).fill(0x61));
        conn.flush();
        wrote();
        return true;
      },
      drain: () => {},
      close: () => {},
    });
  });
  whenTestFinished(() => listener.close());
  return { address: text(listener.address), claimed };
}

/** A client of a hostileServer answering with `header`, the call it answers so, and what the client's connection has received. */
async function clientOf(l: Listener, header: Uint8Array, serves = false): Promise<{ client: ClientStream; call: Promise<Error>; claimed: Promise<void>; received: () => number }> {
  const { address, claimed } = await hostileServer(l, header);
  const dialing = watched(l.dial());
  // No keepalive: a stalled answer must cost what arrived of it whether or not a ping would end the connection.
  // `serves`: the client offers to serve reverse calls, so it reads them (by its limits) from its first byte.
  const client = await ClientStream.connect({ transport: dialing.transport, address, keepaliveMs: 0, ...(serves && { serve: createRouter({}) }) });
  whenTestFinished(() => client.destroy());
  const call = client.call('Svc.echo', new Uint8Array([1])).then(() => new Error('resolved'), (e: Error) => e);
  return { client, call, claimed, received: dialing.received };
}

/** An answer header over the client's limits, or one that may carry no body, and what the call's IO error must name; whether the client serves reverse calls. */
const ANSWERS_OVER: [string, Uint8Array, RegExp, boolean?][] = [
  ['an ok answer claiming a message of 2^32-1 bytes', claimingResponse(0, 0xffff_ffff, 0), /lost: message of 4294967295 bytes exceeds 16777216$/],
  ['an ok answer claiming a blob of 2^31-1 bytes', claimingResponse(0, 0, 0x7fff_ffff), /lost: blob of 2147483647 bytes exceeds 67108864$/],
  ['an error string of 2^31-1 bytes', claimingResponse(2, 0, 0x7fff_ffff), /lost: error string of 2147483647 bytes exceeds 16777216$/],
  ['an error number with a blob of 2^31-1 bytes', claimingResponse(1, 5, 0x7fff_ffff), /lost: blob of 2147483647 bytes exceeds 67108864$/],
  ['a stream item claiming a message of 2^32-1 bytes', claimingResponse(ITEM_FLAG, 0xffff_ffff, 0), /lost: message of 4294967295 bytes exceeds 16777216$/],
  ['a stream item claiming a blob one byte over maxBlob', claimingResponse(ITEM_FLAG, 0, DEFAULT_LIMITS.maxBlob + 1), /lost: blob of 67108865 bytes exceeds 67108864$/],
  ['a server ping claiming a body', claimingResponse(PING_FLAG, 0, 1), /lost: server ping with a body of 1 bytes$/],
  ['a goodbye claiming a body', claimingResponse(GOODBYE_FLAG, 0x00ff_ffff, 0), /lost: goodbye with a body of 16777215 bytes$/],
  ['a reverse call to a client that offered to serve none', claimingResponse(REVERSE_CALL_FLAG, DEFAULT_LIMITS.maxMessage, 0), /lost: unknown response flag 24$/],
  ['a reverse call claiming a message one byte over maxMessage', claimingResponse(REVERSE_CALL_FLAG, DEFAULT_LIMITS.maxMessage + 1, 0, 2), /lost: reverse call message of 16777217 bytes exceeds 16777216$/, true],
  ['a reverse call claiming a blob of 2^31-1 bytes', claimingResponse(REVERSE_CALL_FLAG, 8, 0x7fff_ffff, 2), /lost: blob of 2147483647 bytes exceeds 67108864$/, true],
];

const CLIENTS = LISTENERS.filter((l) => l.client);

describe.concurrent.each(CLIENTS)('a client over $name, against a server answering with claimed lengths', (l) => {
  it('each header past a limit, in any frame: the call fails with IO naming it, and that client alone closes', scoped(async () => {
    const clients = await Promise.all(ANSWERS_OVER.map(([, header, , serves]) => clientOf(l, header, serves)));
    const errs = await within(Promise.all(clients.map((c) => c.call)), HANG_MS, 'the calls to fail');
    expect(errs.map((e) => ({ code: (e as RpcError).code, message: e.message }))).toEqual(ANSWERS_OVER.map(([, , why]) => ({ code: ErrorCode.IO, message: expect.stringMatching(why) })));
    expect(clients.map((c) => c.client.state)).toEqual(clients.map(() => 'closed'));
  }));
});

describe.each(CLIENTS)('a client over $name, against a server answering with claimed lengths within its limits', (l) => {
  it('an ok answer, a stream item and a reverse call claiming a message and a blob at the limits, 1 KiB of each sent: the client holds what arrived', scoped(async () => {
    const before = await arrayBuffersSettled();
    const claims: [Uint8Array, boolean][] = [
      ...[0, ITEM_FLAG, 0, ITEM_FLAG].map((flag): [Uint8Array, boolean] => [claimingResponse(flag, DEFAULT_LIMITS.maxMessage, DEFAULT_LIMITS.maxBlob), false]),
      [claimingResponse(REVERSE_CALL_FLAG, DEFAULT_LIMITS.maxMessage, DEFAULT_LIMITS.maxBlob, 2), true],
    ];
    const clients = await Promise.all(claims.map(([h, serves]) => clientOf(l, h, serves)));
    await within(Promise.all(clients.map((c) => c.claimed)), HANG_MS, 'the answers to be written');
    // The event: over a socket, each client's connection has read the claim and what followed
    // (after the hello's answer); over WebSocket, each call failed at its message's end.
    let failed = 0;
    for (const c of clients) void c.call.then(() => failed++);
    const answered = golden.helloAnswerFull.length + protocol.RESPONSE_HEADER_LENGTH + SENT;
    const arrived = l.messages ? () => failed === clients.length : () => clients.every((c) => c.received() >= answered);
    const grew = await growthUntil(before, arrived, 'the clients to read the answers');
    // 5 x 80 MiB claimed, 5 KiB sent.
    expect(grew).toBeLessThan(16 * MiB);
    // Over WebSocket the message ended mid-frame: IO at once; over a socket the frame is still awaited, until the destroy.
    if (l.messages) {
      for (const err of await within(Promise.all(clients.map((c) => c.call)), HANG_MS, 'the calls to fail')) {
        expect(err).toMatchObject({ code: ErrorCode.IO, message: expect.stringMatching(/lost: message ends mid-frame \(frame needs 83886100 bytes, message has 1044 left\)$/) });
      }
    }
    expect(clients.map((c) => c.client.state)).toEqual(clients.map(() => (l.messages ? 'closed' : 'open')));
    for (const c of clients) c.client.destroy();
    for (const err of await within(Promise.all(clients.map((c) => c.call)), HANG_MS, 'the calls to end')) expect(err).toBeInstanceOf(RpcError);
  }));
});
