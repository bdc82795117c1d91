import { ErrorCode, RpcError, parseAddress, type Address, type FrameConn, type FrameSpec, type Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { cleanups, fullGc, memoryLogger, tmpSocketPath, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, DEFAULT_LIMITS, RpcServer, createRouter, protocol, requestFrameSpec, responseFrameSpec } from '../src/index.js';
import { golden } from './golden.js';

// Every length a peer's header claims (action, message, blob; an answer's message, blob, error
// string) is checked before anything is held for it, on each of a Node server's listeners and a
// client's transports: a claim past the limits closes that connection alone, with FrameTooLarge
// (the server's reply) or IO naming the limit (the client's call); a claim within them holds
// what arrived, never what was claimed. The conformance matrix covers the message length on
// Bun's and Deno's TCP and TLS rows; these are the action and blob lengths, the Unix socket and
// WebSocket listeners, and the client's side.

const cleanup = cleanups();
const MiB = 1 << 20;
const HANG_MS = 10_000;
/** What a claim's 1 KiB is followed by: nothing, for as long as the connection is watched. */
const SENT = 1024;
/** How long memory is sampled once the claims are written: a reservation made at a header shows at once. */
const WATCH_MS = 150;

const tcp = tcpTransport(nodeRuntime);
/** `messages`: frames travel in WebSocket messages and never span one, so a claim past its message's end is a malformed frame at once. */
const LISTENERS: { name: string; transport: Transport; on: () => string; messages: boolean }[] = [
  { name: 'TCP', transport: tcp, on: () => '127.0.0.1:0', messages: false },
  { name: 'Unix socket', transport: tcp, on: () => `unix:${tmpSocketPath()}`, messages: false },
  { name: 'WebSocket', transport: wsTransport(), on: () => '127.0.0.1:0', messages: true },
];
type Listener = (typeof LISTENERS)[number];

const text = (a: Address): string => ('path' in a ? `unix:${a.path}` : `${a.host}:${a.port}`);

/** A request header for a string action of `actionLength` bytes, with a message and a blob of the lengths given. */
function request(actionLength: number, msgLength: number, blobLength: number, seq = 1): Uint8Array {
  const h = new Uint8Array(protocol.REQUEST_HEADER_LENGTH);
  protocol.writeRequestHeader(h, '', actionLength, seq, msgLength, blobLength);
  return h;
}

function response(flag: number, msgLength: number, blobLength: number): Uint8Array {
  const h = new Uint8Array(protocol.RESPONSE_HEADER_LENGTH);
  protocol.writeResponseHeader(h, flag, msgLength, 1, blobLength);
  return h;
}

/**
 * The process's ArrayBuffer memory once what earlier cases left is collected and freed (a
 * collection frees backing stores a little later): a baseline that the frees do not fall under
 * while a case is watched, hiding what it holds.
 */
async function arrayBuffersSettled(): Promise<number> {
  let last = Infinity;
  for (let i = 0; i < 20; i++) {
    fullGc();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const now = process.memoryUsage().arrayBuffers;
    if (now >= last) return now;
    last = now;
  }
  return last;
}

/** The most the process's ArrayBuffer memory grew over `before` while WATCH_MS pass. */
async function arrayBufferGrowth(before: number): Promise<number> {
  let most = 0;
  for (const until = Date.now() + WATCH_MS; Date.now() < until; ) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    most = Math.max(most, process.memoryUsage().arrayBuffers - before);
  }
  return most;
}

/** Reads replies as a client does; sends what it is given as header-only frames, whatever they claim (so the transport frames nothing by them). */
const peerSpec: FrameSpec = { ...responseFrameSpec(DEFAULT_LIMITS), outbound: { headerLength: protocol.REQUEST_HEADER_LENGTH, bodyLength: () => 0 } };

/** A connection of `l`'s transport that wrote `header` and SENT bytes after it. */
async function claimer(l: Listener, address: string, header: Uint8Array): Promise<{ replies: Uint8Array[]; closed: Promise<void>; conn: FrameConn }> {
  const conn = await l.transport.connect(parseAddress(address), peerSpec, { timeoutMs: HANG_MS });
  cleanup.push(() => conn.close());
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
  cleanup.push(() => server.close());
  const address = text(await server.listen(l.transport, l.on()));
  const honest = await ClientStream.connect({ transport: l.transport, address });
  cleanup.push(() => honest.destroy());
  const served = async (): Promise<void> => expect([...(await within(honest.call('Svc.echo', new Uint8Array([7])), HANG_MS, 'the honest call')).msg]).toEqual([7]);
  await served();
  return { address, logger, served };
}

/** A request header over a limit, the FrameTooLarge detail its reply must carry. */
const OVER_LIMITS: [string, Uint8Array, RegExp][] = [
  ['an action of 2^31-1 bytes', request(0x7fff_ffff, 0, 0), /^action of 2147483647 bytes exceeds the server's limit of 1024$/],
  ['an action one byte over maxAction', request(DEFAULT_LIMITS.maxAction + 1, 0, 0), /^action of 1025 bytes exceeds the server's limit of 1024$/],
  ['a blob of 2^31-1 bytes', request(8, 0, 0x7fff_ffff), /^blob of 2147483647 bytes exceeds the server's limit of 67108864$/],
  ['a blob of 2^32-1 bytes (past the wire\'s ceiling)', request(8, 0, 0xffff_ffff), /^blob of 4294967295 bytes exceeds the server's limit of 67108864$/],
  ['a blob one byte over maxBlob', request(8, 0, DEFAULT_LIMITS.maxBlob + 1), /^blob of 67108865 bytes exceeds the server's limit of 67108864$/],
];

describe.each(LISTENERS)('a Node server on $name, against headers claiming lengths', (l) => {
  it('refuses an action or blob length past its limit at the header: FrameTooLarge naming it, a warn line, that connection alone closed', async () => {
    const { address, logger, served } = await serve(l);
    const bad = await Promise.all(OVER_LIMITS.map(([, header]) => claimer(l, address, header)));
    await within(Promise.all(bad.map((b) => b.closed)), HANG_MS, 'the server to close every connection that claimed too much');
    const replies = bad.map(({ replies }) => {
      const h = protocol.readResponseHeader(replies[0]!.subarray(0, protocol.RESPONSE_HEADER_LENGTH));
      const err = protocol.readErrorBytes(replies[0]!.subarray(protocol.RESPONSE_HEADER_LENGTH)) as RpcError;
      return { count: replies.length, flag: h.flag, code: err.code, message: err.message };
    });
    expect(replies).toEqual(OVER_LIMITS.map(([, , detail]) => ({ count: 1, flag: 2, code: ErrorCode.FrameTooLarge, message: expect.stringMatching(detail) })));
    // Said once per kind (numbers blanked): an action's and a blob's.
    await waitFor(() => logger.lines.filter((x) => x.level === 'warn' && x.msg === 'closing connection: malformed frame').length >= 2, { timeoutMs: HANG_MS, what: 'the warn lines' });
    const reasons = logger.lines.filter((x) => x.level === 'warn').map((x) => String(x.obj.reason));
    expect(reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^action of \d+ bytes exceeds 1024$/), expect.stringMatching(/^blob of \d+ bytes exceeds 67108864$/)]));
    await served();
  });

  it('holds what arrived of an action, message and blob claimed at their limits, not the 81 MiB each claims', async () => {
    const { address, logger, served } = await serve(l);
    const before = await arrayBuffersSettled();
    const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => claimer(l, address, request(DEFAULT_LIMITS.maxAction, DEFAULT_LIMITS.maxMessage, DEFAULT_LIMITS.maxBlob, i + 1))));
    const grew = await arrayBufferGrowth(before);
    // 8 x 81 MiB claimed, 8 KiB sent.
    expect(grew).toBeLessThan(16 * MiB);
    // None answered: over a socket each waits for the rest of its frame (until readTimeoutMs); over
    // WebSocket a frame never spans messages, so each is closed at its message's end.
    if (l.messages) {
      await within(Promise.all(claims.map((c) => c.closed)), HANG_MS, 'the claims to be closed');
      await waitFor(() => logger.lines.some((x) => x.level === 'warn' && /^message ends mid-frame \(frame needs 83887136 bytes, message has 1056 left\)$/.test(String(x.obj.reason))), { timeoutMs: HANG_MS, what: 'the warn line' });
    }
    expect(claims.map((c) => c.replies.length)).toEqual(claims.map(() => 0));
    await served();
  });
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
  const listener = await l.transport.listen(parseAddress(l.on()), hostileSpec, (conn) => {
    cleanup.push(() => conn.close());
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
  cleanup.push(() => listener.close());
  return { address: text(listener.address), claimed };
}

/** A client of a hostileServer answering with `header`, and the call it answers so. */
async function clientOf(l: Listener, header: Uint8Array): Promise<{ client: ClientStream; call: Promise<Error>; claimed: Promise<void> }> {
  const { address, claimed } = await hostileServer(l, header);
  // No keepalive: a stalled answer must cost what arrived of it whether or not a ping would end the connection.
  const client = await ClientStream.connect({ transport: l.transport, address, keepaliveMs: 0 });
  cleanup.push(() => client.destroy());
  const call = client.call('Svc.echo', new Uint8Array([1])).then(() => new Error('resolved'), (e: Error) => e);
  return { client, call, claimed };
}

/** An answer header over the client's limits, and what the call's IO error must name. */
const ANSWERS_OVER: [string, Uint8Array, RegExp][] = [
  ['an ok answer claiming a message of 2^32-1 bytes', response(0, 0xffff_ffff, 0), /lost: message of 4294967295 bytes exceeds 16777216$/],
  ['an ok answer claiming a blob of 2^31-1 bytes', response(0, 0, 0x7fff_ffff), /lost: blob of 2147483647 bytes exceeds 67108864$/],
  ['an error string of 2^31-1 bytes', response(2, 0, 0x7fff_ffff), /lost: error string of 2147483647 bytes exceeds 16777216$/],
  ['an error number with a blob of 2^31-1 bytes', response(1, 5, 0x7fff_ffff), /lost: blob of 2147483647 bytes exceeds 67108864$/],
];

describe.each(LISTENERS)('a client over $name, against a server answering with claimed lengths', (l) => {
  it.each(ANSWERS_OVER)('%s: the call fails with IO naming the limit, and the connection closes', async (_what, header, why) => {
    const { client, call } = await clientOf(l, header);
    const err = await within(call, HANG_MS, 'the call to fail');
    expect(err).toMatchObject({ code: ErrorCode.IO, message: expect.stringMatching(why) });
    expect(client.state).toBe('closed');
  });

  it('an ok answer claiming a message and a blob at the limits, 1 KiB of it sent: the client holds what arrived', async () => {
    const before = await arrayBuffersSettled();
    const clients = await Promise.all(Array.from({ length: 4 }, () => clientOf(l, response(0, DEFAULT_LIMITS.maxMessage, DEFAULT_LIMITS.maxBlob))));
    await within(Promise.all(clients.map((c) => c.claimed)), HANG_MS, 'the answers to be written');
    const grew = await arrayBufferGrowth(before);
    // 4 x 80 MiB claimed, 4 KiB sent.
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
  });
});
