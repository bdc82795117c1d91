import { ErrorCode, RemoteError, type RpcError } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { cleanups, memoryLogger } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ClientStream, DEFAULT_LIMITS, RpcServer, createRouter, type RpcServerOptions } from '../src/index.js';
import { decodeHello, findEntry } from '../src/wire/hello.js';
import { readRequestLimits } from '../src/wire/request-limits.js';
import { golden } from './golden.js';
import { responseFrames, transport as defaultTcp } from './harness.js';

/*
 * A transport's own frame cap under what the server's limits allow (docs/protocol.md, "The
 * hello", kind 26's max_frame): over TCP, `maxPendingFrameBytes` under `maxMessage + maxBlob`
 * (a user who raised `limits` past 256 MiB; here a 1 MiB budget stands in for it). A call within
 * every declared limit but over the cap went out, the transport closed the connection, and every
 * call on it failed IO "may have run". The server now names the cap in its hello's answer, and
 * the client refuses such a call unsent, keeping the connection; the server warns at listen.
 */
const cleanup = cleanups();
const MiB = 1024 * 1024;
/** A request frame's header, and the 4 bytes of the action 'echo'. */
const HEADER = 32;
const ECHO = 4;

async function start(transport = tcpTransport(nodeRuntime, { maxPendingFrameBytes: MiB }), opts: Partial<RpcServerOptions> = {}) {
  let runs = 0;
  const logger = memoryLogger();
  const dispatch = createRouter({
    echo: (req) => (runs++, new Uint8Array([req.msg.length > 0 ? 1 : 0])),
    stream: async (req) => {
      for await (const _ of req.stream!) runs++;
    },
  });
  const server = new RpcServer({ dispatch, logger, ...opts });
  cleanup.push(() => server.close());
  const a = (await server.listen(transport, '127.0.0.1:0')) as { host: string; port: number };
  return { address: `${a.host}:${a.port}`, logger, runs: () => runs };
}

async function connect(address: string): Promise<ClientStream> {
  const s = await ClientStream.connect({ transport: defaultTcp, address, keepaliveMs: 0 });
  cleanup.push(() => s.destroy());
  await s.call('echo'); // answered: the server's limits and frame cap are known from here
  return s;
}

const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ran',
    (e: RpcError) => `${e.code === ErrorCode.FrameTooLarge ? 'FrameTooLarge' : `code ${e.code}`} ${e.retry}: ${e.message}`,
  );

/** Kind 26's value in the server's answer to the full offer, read off the wire by a raw client. */
async function kind26(address: string): Promise<Uint8Array | undefined> {
  const [host, port] = address.split(':');
  const sock = net.connect(Number(port), host);
  cleanup.push(() => sock.destroy());
  sock.write(golden.helloRequestFull);
  const answer = await new Promise<Buffer>((resolve) => sock.once('data', resolve));
  const body = responseFrames(new Uint8Array(answer))[0]!.body;
  return findEntry(decodeHello(body, 0, body.length), 26)?.slice();
}

describe("a transport's frame cap under the server's limits (TCP, maxPendingFrameBytes)", () => {
  it('is named in the hello\'s answer (max_frame) only where it binds, over TCP', async () => {
    const capped = await start();
    const value = await kind26(capped.address);
    expect(value?.length).toBe(16);
    expect(readRequestLimits(value!)).toEqual({ ...DEFAULT_LIMITS, maxFrame: MiB });
    // The default budget (256 MiB) holds the default limits' largest frame: the entry stays as it
    // was. (TCP bounds each frame alone; over WebSocket, which packs frames into messages the cap
    // bounds, it is named wherever finite: the WebSocket tests below.)
    const plain = await start(defaultTcp);
    expect((await kind26(plain.address))?.length).toBe(12);
  });

  it('refuses a call over it unsent (FrameTooLarge, safe, naming the option) and keeps the connection', async () => {
    const s = await start();
    const client = await connect(s.address);
    const before = s.runs();
    // The largest frame the cap holds goes and runs; one byte more is refused here, unsent.
    expect(await outcome(client.call('echo', new Uint8Array(MiB - HEADER - ECHO)))).toBe('ran');
    expect(await outcome(client.call('echo', new Uint8Array(MiB - HEADER - ECHO + 1)))).toMatch(/^FrameTooLarge safe: request frame of 1048577 bytes exceeds .*1048576 .*maxPendingFrameBytes.*not sent/);
    expect(await outcome(client.call('echo', new Uint8Array(8), { blob: new Uint8Array(2 * MiB) }))).toMatch(/^FrameTooLarge safe: .*maxPendingFrameBytes/);
    expect(client.state).toBe('open');
    expect(await outcome(client.call('echo', new Uint8Array(8)))).toBe('ran');
    expect(s.runs()).toBe(before + 2);
  });

  it("refuses, as it leaves its wait, a call over it made before the hello's answer", async () => {
    const s = await start();
    const client = await ClientStream.connect({ transport: defaultTcp, address: s.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    // A deadline is a head: the call is held for the answer, then checked against the cap as it goes.
    const held = outcome(client.call('echo', new Uint8Array(MiB), { timeoutMs: 30_000 }));
    expect(await held).toMatch(/^FrameTooLarge safe: request frame of 1048612 bytes exceeds .*maxPendingFrameBytes/);
    expect(await outcome(client.call('echo', new Uint8Array(8)))).toBe('ran');
    expect(s.runs()).toBe(1);
  });

  it('refuses a stream item over it unsent and keeps the stream', async () => {
    const s = await start();
    const client = await connect(s.address);
    const stream = client.openStream('stream');
    const err = await stream.write(new Uint8Array(MiB / 2), new Uint8Array(MiB / 2)).then(
      () => undefined,
      (e: RpcError) => e,
    );
    expect(err?.code).toBe(ErrorCode.FrameTooLarge);
    expect(err?.message).toMatch(/^stream item frame of 1048608 bytes exceeds .*maxPendingFrameBytes.*not sent/);
    await stream.write(new Uint8Array(MiB / 2));
    stream.end();
    await stream.result;
    expect(client.state).toBe('open');
  });
});

describe('RpcServer.listen', () => {
  const capLines = (lines: ReturnType<typeof memoryLogger>['lines'], level: 'warn' | 'info') =>
    lines.filter((l) => l.level === level && /largest the \w+ transport carries/.test(l.msg ?? ''));

  it("says once, at info, when a kind's default limits allow frames over a transport cap lowered by choice, naming both options", async () => {
    const s = await start();
    expect(capLines(s.logger.lines, 'warn')).toHaveLength(0);
    const lines = capLines(s.logger.lines, 'info');
    expect(lines).toHaveLength(1);
    const largest = HEADER + DEFAULT_LIMITS.maxAction + DEFAULT_LIMITS.maxMessage + DEFAULT_LIMITS.maxBlob;
    expect(lines[0]!.obj).toMatchObject({ transport: 'tcp', maxFrameBytes: MiB, largestRequestFrame: largest, kinds: ['client'] });
    expect(lines[0]!.msg).toMatch(new RegExp(`clients' limits allow a request frame of ${largest} bytes .*maxPendingFrameBytes.*raise that transport option to at least ${largest}, or lower the limits`));
  });

  it('warns where limits raised past the defaults allow frames over the transport cap: the calls they were raised for would fail', async () => {
    const raised = await start(wsTransport(), { limits: { maxBlob: 300 * MiB } });
    const lines = capLines(raised.logger.lines, 'warn');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toMatch(/maxWsMessageBytes/);
  });

  it('gives no warning for the default WebSocket transport under the default limits (at each listen of every default server), and says nothing where the cap holds them', async () => {
    const ws = (await start(wsTransport())).logger.lines;
    expect(capLines(ws, 'warn')).toHaveLength(0);
    expect(capLines(ws, 'info')).toHaveLength(1);
    const tcp = (await start(defaultTcp)).logger.lines;
    expect([...capLines(tcp, 'warn'), ...capLines(tcp, 'info')]).toHaveLength(0);
    // Limits lowered under the cap: nothing to say.
    const lowered = await start(tcpTransport(nodeRuntime, { maxPendingFrameBytes: MiB }), { limits: { maxMessage: 256 * 1024, maxBlob: 512 * 1024 } });
    expect([...capLines(lowered.logger.lines, 'warn'), ...capLines(lowered.logger.lines, 'info')]).toHaveLength(0);
  });
});

describe("a transport's frame cap under the server's limits (WebSocket, maxWsMessageBytes)", () => {
  const KiB = 1024;

  async function wsConnect(address: string): Promise<ClientStream> {
    const s = await ClientStream.connect({ transport: wsTransport(), address, keepaliveMs: 0 });
    cleanup.push(() => s.destroy());
    await s.call('echo'); // answered: the server's max_frame is known from here
    return s;
  }

  it('holds each message within it, not only each frame: calls within it sent together all run, and the connection stays', async () => {
    // A common hardening setting, under the client's maxBatchBytes (1 MiB): the client packed
    // four such frames into one message, the server closed the connection (1009) and every call
    // failed IO "may have executed".
    const s = await start(wsTransport({ maxWsMessageBytes: 256 * KiB }));
    const client = await wsConnect(s.address);
    const calls = [0, 1, 2, 3].map(() => outcome(client.call('echo', new Uint8Array(8), { blob: new Uint8Array(200 * KiB) })));
    expect(await Promise.all(calls)).toEqual(['ran', 'ran', 'ran', 'ran']);
    expect(client.state).toBe('open');
    expect(s.runs()).toBe(5);
  });

  it("refuses metadata whose frame (the call's head) is over it unsent, though within the server's maxHead, and keeps the connection", async () => {
    const s = await start(wsTransport({ maxWsMessageBytes: 4 * KiB }));
    const client = await wsConnect(s.address);
    // ~6 KiB of metadata: within the default maxHead (8 KiB) and maxMessage, its frame over 4 KiB.
    const metadata = { big: 'x'.repeat(6 * KiB) };
    expect(await outcome(client.call('echo', new Uint8Array(8), { metadata }))).toMatch(/^FrameTooLarge safe: metadata of \d+ bytes encoded \(the call's head, a frame of \d+ bytes\) exceeds .*4096 .*maxWsMessageBytes.*not sent/);
    const stream = client.openStream('stream', undefined, { metadata });
    expect(await outcome(stream.result)).toMatch(/^FrameTooLarge safe: metadata .*maxWsMessageBytes.*not sent/);
    expect(client.state).toBe('open');
    expect(await outcome(client.call('echo', new Uint8Array(8), { metadata: { small: 'y' } }))).toBe('ran');
    expect(s.runs()).toBe(2);
  });

  it("holds the server's replies within the client's cap too: replies within it sent together all arrive, and the connection stays", async () => {
    // The client names its cap in its hello (kind 1's max_frame); the server packed four such
    // replies into one message (its maxBatchBytes, 1 MiB) and the client's socket closed (1009).
    const server = new RpcServer({ dispatch: createRouter({ get: () => new Uint8Array(200 * KiB) }) });
    cleanup.push(() => server.close());
    const a = (await server.listen(wsTransport(), '127.0.0.1:0')) as { host: string; port: number };
    const client = await ClientStream.connect({ transport: wsTransport({ maxWsMessageBytes: 256 * KiB }), address: `${a.host}:${a.port}`, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    expect(await outcome(client.call('get'))).toBe('ran');
    expect(await Promise.all([0, 1, 2, 3].map(() => outcome(client.call('get'))))).toEqual(['ran', 'ran', 'ran', 'ran']);
    expect(client.state).toBe('open');
  });

  it("holds each message within it where every single frame the server's limits allow fits: calls sent together after the answer all run", async () => {
    // 16 KiB message and blob: the largest request frame (~32 KiB) fits a 64 KiB message, so the
    // server named no max_frame (only where a single frame would not fit), the client kept its
    // maxBatchBytes (1 MiB) and packed eight 12 KiB calls into one 96 KiB message: 1009, every
    // call lost. Named wherever a WebSocket has a cap, the client cuts its messages at it.
    const s = await start(wsTransport({ maxWsMessageBytes: 64 * KiB }), { limits: { maxMessage: 16 * KiB, maxBlob: 16 * KiB } });
    const client = await wsConnect(s.address);
    const calls = Array.from({ length: 8 }, () => outcome(client.call('echo', new Uint8Array(12 * KiB))));
    expect(await Promise.all(calls)).toEqual(Array(8).fill('ran'));
    expect(client.state).toBe('open');
    expect(s.runs()).toBe(9);
  });

  it("holds the server's replies within the client's cap where every single reply the client's limits allow fits: many small replies together all arrive", async () => {
    // The client's side of the same rule (kind 1's max_frame): its limits' largest reply fits its
    // 64 KiB messages, so it named no cap, and the server packed eight 12 KiB replies into one.
    const bigError = () => {
      throw new RemoteError(new Uint8Array(100 * KiB).fill(0x61));
    };
    const server = new RpcServer({ dispatch: createRouter({ get: () => new Uint8Array(12 * KiB), big: () => new Uint8Array(100 * KiB), bigError }) });
    cleanup.push(() => server.close());
    const a = (await server.listen(wsTransport(), '127.0.0.1:0')) as { host: string; port: number };
    const limits = { maxMessage: 16 * KiB, maxBlob: 16 * KiB };
    const client = await ClientStream.connect({ transport: wsTransport({ maxWsMessageBytes: 64 * KiB }), address: `${a.host}:${a.port}`, keepaliveMs: 0, limits });
    cleanup.push(() => client.destroy());
    expect(await outcome(client.call('get'))).toBe('ran');
    expect(await Promise.all(Array.from({ length: 8 }, () => outcome(client.call('get'))))).toEqual(Array(8).fill('ran'));
    // A reply over the cap is over the client's maxMessage too, which is what to raise: the words
    // name it, as they did before the cap was named here (the cap does not bind these limits).
    expect(await outcome(client.call('big'))).toBe("FrameTooLarge never: big: reply message of 102400 bytes exceeds the client's limit of 16384 (its limits.maxMessage)");
    expect(await outcome(client.call('bigError'))).toBe("FrameTooLarge never: bigError: error reply of 102400 bytes exceeds the client's limit of 16384");
    expect(client.state).toBe('open');
  });
});
