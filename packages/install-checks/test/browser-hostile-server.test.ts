import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createServiceDispatch, implement } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, invalidArgument, silentLogger } from '@skein/core';
import { createRouter, protocol, RpcServer, type ServerRequest } from '@skein/stream';
import { deferred, describeNeeding, within, type Deferred } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
// The `ws` library itself, for a server that writes whatever bytes it likes: the transport's own
// server cuts what it sends into whole frames, so it cannot send a broken one.
import { WebSocketServer, type WebSocket as RawWs } from 'ws';
import { afterAll, expect, it } from 'vitest';
import { BROKEN_MODES, ECHO, HELD, HOLD, IN_FLIGHT, OutOfStock, Shop, runHostile, type Report } from '../fixtures/browser/hostile.js';
import { pageInChromium } from './browser-page.js';

const PAGE = fileURLToPath(new URL('../fixtures/browser/hostile-page.ts', import.meta.url));

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

function response(flag: number, seq: number, msgLen: number, body: Uint8Array = new Uint8Array(0), blobLen = 0): Uint8Array {
  const out = new Uint8Array(protocol.RESPONSE_HEADER_LENGTH + body.length);
  protocol.writeResponseHeader(out, flag as protocol.ResponseFlag, msgLen, seq, blobLen);
  out.set(body, protocol.RESPONSE_HEADER_LENGTH);
  return out;
}
const ok = (seq: number, text = ''): Uint8Array => response(0, seq, text.length, bytes(text));

const GOODBYE = response(0x1d, 0, 0);
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

/**
 * What each broken mode sends for the last call in flight: a frame header claiming more than the
 * client's limits, with 10 bytes behind it; a flag no answer has; part of a header; a bad magic;
 * a goodbye (the server's last frame, which says the calls unanswered never ran) broken: followed
 * by garbage, or by an answer, or from a server whose hello never agreed goodbyes.
 */
const BROKEN: Record<string, (seq: number) => Uint8Array> = {
  'huge-message': (seq) => response(0, seq, 17 * 1024 * 1024, new Uint8Array(10)),
  'huge-blob': (seq) => response(0, seq, 0, new Uint8Array(10), 0x7fff_ffff),
  'unknown-flag': (seq) => response(9, seq, 0),
  truncated: (seq) => ok(seq).subarray(0, 12),
  'bad-magic': (seq) => ok(seq).fill(0x11, 0, 2),
  'goodbye-then-garbage': (seq) => concat(GOODBYE, ok(seq).fill(0x11, 0, 2)),
  'goodbye-then-answer': (seq) => concat(GOODBYE, ok(seq, 'late')),
  'goodbye-unagreed': () => GOODBYE,
};
/** Broken modes whose server then closes cleanly, as one that means its goodbye would. */
const CLOSE_AFTER = new Set(['goodbye-then-answer', 'goodbye-unagreed']);

/** A hello answer that agrees goodbyes (kind 25) and nothing else. */
const AGREES_GOODBYE = response(0, 0, 6, new Uint8Array([1, 1, 25, 0, 0, 0]));

/**
 * Hello answers that make no sense: of version 7; of version 1 with an entry (receive limits)
 * claiming more bytes than follow. And one agreeing goodbyes, for the modes that break one.
 */
const HELLO_ANSWERS: Record<string, Uint8Array> = {
  'bad-hello': response(0, 0, 2, new Uint8Array([7, 1])),
  'cut-hello': response(0, 0, 8, new Uint8Array([1, 1, 1, 0, 0xff, 0xff, 1, 2])),
  'goodbye-then-garbage': AGREES_GOODBYE,
  'goodbye-then-answer': AGREES_GOODBYE,
};

/**
 * A WebSocket server that answers pings and the hello as a v1 server would (`rpc_decode`; see
 * HELLO_ANSWERS for the modes answered otherwise), and the calls as the path's `mode` says: broken
 * (see BROKEN; `text` sends a text message, `close` closes cleanly, `reset` resets the TCP
 * connection), an answer to a seq never sent before the real one, a garbage hello
 * answer, or (`flaky-*`) the first connection reset at its first call, the second refused at its
 * upgrade (the server is down), the later ones served.
 */
async function hostileServer(): Promise<{ server: Server; port: number }> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const connections = new Map<string, number>();
  const server = createServer((_, res) => void res.writeHead(404).end());
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => {});
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const mode = q.get('mode') ?? '';
    const key = `${q.get('who')}/${mode}`;
    const nth = (connections.get(key) ?? 0) + 1;
    connections.set(key, nth);
    if (mode.startsWith('flaky') && nth === 2) return void socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, socket, mode.startsWith('flaky') ? (nth === 1 ? 'reset-first' : 'serve') : mode));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.on('close', () => wss.close());
  return { server, port: (server.address() as { port: number }).port };
}

function serve(ws: RawWs, socket: Socket, mode: string): void {
  let calls = 0;
  ws.on('error', () => {});
  ws.on('message', (data: Buffer) => {
    // The client's end (an empty message): this side ends too, as a Skein server would, and the closing handshake follows.
    if (data.length === 0) return void ws.send(new Uint8Array(0));
    for (let at = 0; at + protocol.REQUEST_HEADER_LENGTH <= data.length; ) {
      const h = protocol.readRequestHeader(data.subarray(at, at + protocol.REQUEST_HEADER_LENGTH));
      at += protocol.REQUEST_HEADER_LENGTH + h.actionLength + h.msgLength + h.blobLength;
      const seq = Number(h.seq);
      if (h.action === protocol.HELLO_ACTION) ws.send(HELLO_ANSWERS[mode] ?? response(2, 0, 0, bytes('rpc_decode'), 10));
      else if (h.action === protocol.PING_ACTION) ws.send(ok(seq));
      else if (++calls < IN_FLIGHT && (BROKEN_MODES as readonly string[]).includes(mode)) continue;
      else if (mode in BROKEN) (ws.send(BROKEN[mode]!(seq)), CLOSE_AFTER.has(mode) && ws.close());
      else if (mode === 'text') ws.send('not a frame');
      // A WebSocket frame header claiming 32 MiB, and 100 bytes of it: the message never ends.
      else if (mode === 'ws-stall') socket.write(Buffer.concat([Buffer.from([0x82, 127, 0, 0, 0, 0, 0x02, 0, 0, 0]), Buffer.alloc(100)]));
      else if (mode === 'close') ws.close();
      else if (mode === 'reset' || mode === 'reset-first') socket.resetAndDestroy();
      else if (mode === 'unknown-seq') (ws.send(ok(seq + 1000, 'bogus')), ws.send(ok(seq, 'real')));
      else if (mode in HELLO_ANSWERS) ws.send(ok(seq, 'plain'));
      else ws.send(ok(seq, 'back'));
    }
  });
}

/** The well-behaved server: an echo, calls held until their caller gives up (`held(tag)`: the request, once it runs), and typed errors. */
function skeinServer(): { server: RpcServer; held: (tag: string) => Deferred<ServerRequest> } {
  const held = new Map<string, Deferred<ServerRequest>>();
  const heldCall = (tag: string): Deferred<ServerRequest> => held.get(tag) ?? (held.set(tag, deferred<ServerRequest>()), held.get(tag)!);
  const tagOf = (req: ServerRequest): string => new TextDecoder().decode(req.msg);
  const router = createRouter(
    {
      [ECHO]: (req) => req.msg,
      [HOLD]: (req) => (heldCall(tagOf(req)).resolve(req), new Promise<never>(() => {})),
      [HELD]: async (req) => void (await heldCall(tagOf(req)).promise),
    },
    silentLogger,
  );
  const api = createServiceDispatch({
    codec: msgpackCodec,
    services: [
      implement(Shop, {
        buy: ({ item }) => {
          throw new OutOfStock(item, 0);
        },
        check: ({ qty }) => {
          if (qty <= 0) throw invalidArgument('qty: expected a positive number');
          return qty;
        },
      }),
    ],
  });
  const server = new RpcServer({ dispatch: { dispatch: (req) => (typeof req.action === 'number' ? router : api).dispatch(req) }, logger: silentLogger, closeWaitMs: 0 });
  return { server, held: heldCall };
}

/** What both clients must report, whichever runs them. */
function expectDocumented(r: Report): void {
  const lost = { typed: 'RpcError', code: ErrorCode.IO, retry: 'idempotent' };
  const why: Record<string, RegExp> = {
    'huge-message': /message of 17825792 bytes exceeds 16777216/,
    'huge-blob': /blob of 2147483647 bytes exceeds/,
    'unknown-flag': /flag 9/,
    truncated: /mid-frame/,
    'bad-magic': /bad magic/,
    text: /text message: Skein frames travel in binary messages/,
    'goodbye-then-garbage': /bad magic/,
    'goodbye-then-answer': /after the server's goodbye/,
    'goodbye-unagreed': /did not agree goodbyes/,
    'ws-stall': /did not answer a ping/,
    close: /closed by peer/,
    reset: /1006/,
  };
  for (const mode of BROKEN_MODES) {
    const { failures, state, bystander } = r.broken[mode]!;
    expect(failures, mode).toHaveLength(IN_FLIGHT);
    for (const f of failures) expect(f, mode).toMatchObject({ ...lost, message: expect.stringMatching(why[mode]!) });
    expect([state, bystander], mode).toEqual(['closed', mode]);
  }
  expect(r.unknownSeq).toEqual({ reply: 'real', state: 'open' });
  expect(r.badHello).toEqual({ reply: 'plain', state: 'open' });
  expect(r.cutHello).toEqual({ reply: 'plain', state: 'open' });
  for (const [name, p] of Object.entries(r.pools)) {
    expect(p.first, name).toMatchObject(lost);
    expect(p.second, name).toBe('back');
    expect(p.states, name).toContain('backoff');
    expect(p.states.at(-1), name).toBe('ready');
  }
  expect(r.cancel).toMatchObject({ abort: { code: ErrorCode.Cancelled }, deadline: { code: ErrorCode.Timeout }, after: 'after' });
  expect(r.errors.custom).toEqual({ typed: 'OutOfStock', message: 'tea: 0 left', item: 'tea', left: 0 });
  expect(r.errors.invalid).toMatchObject({ typed: 'RpcError', code: ErrorCode.InvalidArgument, retry: 'never', message: expect.stringMatching(/qty: expected a positive number/) });
  expect(r.errors.notFound).toMatchObject({ typed: 'RpcError', code: ErrorCode.Method, retry: 'never' });
}

/** Bounds the waits for what the server sees: a hang guard only, never what decides. */
const SEEN_MS = 30_000;

/**
 * Why the server's request ended (its signal's reason), once it has: an event waited for, not a
 * state read at the moment the client's side settled. The server reads a cancel in its own time;
 * a cancel never sent (or never read) ends the request only with its connection, its reason then
 * IO, never Cancelled.
 */
function endSeen(req: ServerRequest, what: string): Promise<unknown> {
  const { signal } = req;
  if (signal.aborted) return Promise.resolve(signal.reason);
  return within(new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true })), SEEN_MS, what);
}

/** The server saw both held calls end: the aborted one by the client's cancel (Cancelled), the other at its deadline. */
async function expectCancelsSeen(held: (tag: string) => Deferred<ServerRequest>, who: string): Promise<void> {
  const abort = await within(held(`${who}-abort`).promise, SEEN_MS, `${who}: the call to cancel running on the server`);
  const deadline = await within(held(`${who}-deadline`).promise, SEEN_MS, `${who}: the call with a deadline running on the server`);
  const abortWhy = await endSeen(abort, `${who}: the server's call ending after the client's cancel`);
  const deadlineWhy = await endSeen(deadline, `${who}: the server's call ending at its deadline`);
  expect((abortWhy as RpcError).code, `${who}: ${(abortWhy as Error).message}`).toBe(ErrorCode.Cancelled);
  expect([ErrorCode.Timeout, ErrorCode.Cancelled], `${who}: ${(deadlineWhy as Error).message}`).toContain((deadlineWhy as RpcError).code);
}

describeNeeding(['chromium'], 'a page in headless Chromium against hostile and broken servers, beside a Node client', () => {
  let hostile: Server | undefined;
  const skein = skeinServer();
  const ports = { hostile: 0, skein: 0 };
  const page = pageInChromium(PAGE, async () => {
    ports.skein = ((await skein.server.listen(wsTransport(), '127.0.0.1:0')) as { port: number }).port;
    const h = await hostileServer();
    hostile = h.server;
    ports.hostile = h.port;
    return `hostile=${ports.hostile}&skein=${ports.skein}`;
  });

  afterAll(async () => {
    hostile?.closeAllConnections();
    hostile?.close();
    await skein.server.close();
  });

  it('fails broken connections alone with IO that says the calls may have run, drops stray answers, reconnects its pools, cancels, and keeps error types: as the Node client does', async () => {
    const node = (await runHostile((path) => wsTransport(path ? { path } : {}), ports, 'node')) as Report;
    expectDocumented(JSON.parse(JSON.stringify(node)) as Report);
    await expectCancelsSeen(skein.held, 'node');

    const { result, errors } = await page.result('skeinHostile', 90_000);
    expect(errors).toEqual([]);
    expectDocumented(result as Report);
    await expectCancelsSeen(skein.held, 'page');
    // The same outcomes, word for word, in the page as in Node.
    expect(result).toEqual(JSON.parse(JSON.stringify(node)));
  }, 180_000);
});
