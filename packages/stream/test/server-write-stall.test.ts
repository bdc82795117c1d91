import { EMPTY_BYTES } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { connectRazorClient, memoryLogger, processStopped, sleep, startProcess, startTcpRelay, suiteCerts, tcpBufferCeiling, testTls, waitFor, type Proc, cleanups } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { uwsTransport, wsTransport } from '@skein/transport-ws';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type RpcServerOptions, type ServerRequest } from '../src/index.js';
import { transport } from './harness.js';

/*
 * The server's write-stall check (docs/protocol.md, "Server pings"; server/write-stall.ts). A
 * client frozen (SIGSTOP) while the server's send buffer towards it is full was never found:
 * the server had stopped reading it (a full buffer counts as heard, as a slow reader keeps it
 * full too), its ping could not be written past the buffer, and TCP never times out a peer whose
 * kernel answers its zero-window probes. Its connection, handler and buffered replies were held
 * for ever. Now a connection whose kernel took no byte for keepaliveMs + keepaliveTimeoutMs ends.
 */

const certs = suiteCerts();
/** A server's TLS (its certificate is for localhost and 127.0.0.1), and what a client in this process trusts of it. */
const { serverTls, clientTls } = testTls(certs);

const cleanup = cleanups();

/** A stall is judged after 400 ms without a byte taken. */
const FAST: Partial<RpcServerOptions> = { keepaliveMs: 200, keepaliveTimeoutMs: 200, tickMs: 20, closeWaitMs: 0 };
/** A stall is judged after 800 ms: the kernel takes a slow reader's bytes in steps of a third of its send buffer (about 1.3 MiB here, 110 ms at 12 MiB/s). */
const SLOWER: Partial<RpcServerOptions> = { ...FAST, keepaliveMs: 400, keepaliveTimeoutMs: 400 };
/** The safety net of every wait: far past the bound. */
const BOUND = { timeoutMs: 15_000 };
/**
 * A reply larger than the most the kernels between server and client can hold (the client's
 * receive buffer and the server's send buffer at the largest this host lets them grow to: 32 and
 * 4 MiB on a stock Linux, 40 MiB counted for buffers a program sets): with a reader's two calls
 * under way there is always at least one such reply unsent, so once the reader stops, the rest
 * waits in the server's own buffer, over its mark, and it stops reading the connection (paused).
 * Derived from the host, not a fixed 48 MiB: every byte of it is sent and read at least once.
 */
const BIG = tcpBufferCeiling() + (1 << 20);

interface Seen {
  /** The held stream's handler runs, holding it (its first item written). */
  holding: boolean;
  /** The held stream's handler saw its signal fire. */
  aborted: boolean;
  /** ... and returned. */
  done: boolean;
}

/** A handler that holds its stream open until its signal fires: what a frozen client would hold for ever. */
function hold(seen: Seen) {
  return async (req: ServerRequest) => {
    await req.stream!.write(new Uint8Array(4));
    seen.holding = true;
    await new Promise((resolve) => req.signal.addEventListener('abort', resolve, { once: true }));
    seen.aborted = true;
    seen.done = true;
    return EMPTY_BYTES;
  };
}

async function listen(serverTransport: Parameters<RpcServer['listen']>[0], opts: Partial<RpcServerOptions>, replyBytes = BIG) {
  const logger = memoryLogger();
  const seen: Seen = { holding: false, aborted: false, done: false };
  // One blob for every reply: sent by reference, so the test holds no copy per call.
  const blob = new Uint8Array(replyBytes).fill(7);
  const server = new RpcServer({ dispatch: createRouter({ hold: hold(seen), big: () => ({ msg: EMPTY_BYTES, blob }) }), logger, ...opts });
  cleanup.push(() => server.close());
  const a = (await server.listen(serverTransport, '127.0.0.1:0')) as { port: number };
  return { server, seen, logger, address: `127.0.0.1:${a.port}` };
}

/**
 * A client process holding a stream and reading large replies, frozen once it has read one, its
 * stream's handler holding on the server (`seen.holding`): its two calls are then under way, and
 * the server's buffer fills with the next replies. Over TLS with `secure`. Before, it was frozen
 * after two replies, a stand-in for the handler's start (whose first item waited behind the
 * replies): another BIG through every transport, and no sure sign. Now the reader makes its calls
 * once that item has come (big-reader.mjs).
 */
async function frozenReader(address: string, kind: 'tcp' | 'ws', seen: Seen, secure = false): Promise<Proc> {
  const args = [fileURLToPath(new URL('./fixtures/big-reader.mjs', import.meta.url)), address, kind, ...(secure ? [path.join(certs.dir, 'ca.crt')] : [])];
  const reader = startProcess(process.execPath, args);
  cleanup.push(() => (reader.kill('SIGKILL'), reader.exited));
  await reader.waitForLine(/^big 1 of /, BOUND.timeoutMs);
  await waitFor(() => seen.holding || undefined, { ...BOUND, what: "the held stream's handler running" });
  reader.kill('SIGSTOP');
  await waitFor(() => processStopped(reader.pid) || undefined, { ...BOUND, what: 'the reader stopped' });
  return reader;
}

const STALL_LINE = /took no byte of what the server sent/;
const said = (s: { logger: ReturnType<typeof memoryLogger> }, re: RegExp): boolean => s.logger.lines.some((e) => re.test(e.msg ?? ''));

// One at a time, not at once: six readers taking their first reply together (a large one each,
// every byte through this one process) starved each other past BOUND on a loaded 2-core box.
describe('a client frozen behind a full send buffer', () => {
  // Judged after 2 s here: the reader is alive, reading large replies, until it has one of them
  // and is frozen, and on a loaded machine (a CI run with other work beside it) a live reader
  // starved of CPU for 400 ms was once judged stalled before it froze (uWebSockets.js over TLS,
  // whose progress shows in coarse steps). The verdict is the same at any bound.
  const FROZEN: Partial<RpcServerOptions> = { ...FAST, keepaliveMs: 1000, keepaliveTimeoutMs: 1000 };
  // Over TLS, Node's count is the TCP socket's beneath the TLS one (its encrypted bytes).
  it.each([
    ['TCP', () => transport, 'tcp', false],
    ['ws', () => wsTransport(), 'ws', false],
    ['uWebSockets.js', () => uwsTransport(), 'ws', false],
    ['TLS', () => tcpTransport(nodeRuntime, { tls: serverTls() }), 'tcp', true],
    ['wss', () => wsTransport({ tls: serverTls() }), 'ws', true],
    ['uWebSockets.js wss', () => uwsTransport({ tls: serverTls() }), 'ws', true],
  ] as const)('is ended after keepaliveMs + keepaliveTimeoutMs without a byte taken, as a lost one: its handler is told, the reason is logged (%s server)', async (_name, serverTransport, kind, secure) => {
    const s = await listen(serverTransport(), FROZEN);
    await frozenReader(s.address, kind, s.seen, secure);
    await waitFor(() => (s.seen.aborted && s.seen.done && s.server.stats().connections === 0) || undefined, { ...BOUND, what: "the frozen client's connection ended on the server" });
    // What it held is gone with it: no connection, no call, no stream, no reply buffered on the server.
    expect(s.server.stats().inFlight).toBe(0);
    expect(s.server.openConnections()).toEqual([]);
    // Found by the stall, not by the keepalive: the server, paused on its full buffer, counted it as heard.
    expect(said(s, STALL_LINE)).toBe(true);
    expect(said(s, /did not answer a ping/)).toBe(false);
  }, 30_000);

  it('keepaliveMs 0 turns the check off with the keepalive: the frozen client keeps its connection, and reads on when it wakes', async () => {
    const s = await listen(transport, { ...FAST, keepaliveMs: 0 });
    const reader = await frozenReader(s.address, 'tcp', s.seen);
    const replies = (): number => reader.lines.filter((l) => l.startsWith('big ')).length;
    const before = replies();
    // Four times the bound the check would have had, and eight times keepaliveTimeoutMs alone.
    await sleep(1600);
    expect(s.server.stats().connections).toBe(1);
    expect(s.seen.aborted).toBe(false);
    reader.kill('SIGCONT');
    // The same connection goes on: the replies under way when it froze arrive whole.
    await waitFor(() => replies() >= before + 2 || undefined, { ...BOUND, what: 'the woken reader reading on' });
    expect(s.seen.aborted).toBe(false);
    expect(said(s, STALL_LINE)).toBe(false);
  }, 30_000);

  it('a razor v1 client (no hello, no pings) frozen under a large reply is ended too: the check needs nothing from the client', async () => {
    const s = await listen(transport, FAST);
    const razor = await connectRazorClient(s.address);
    cleanup.push(() => razor.destroy());
    // It stops reading before it asks, as a process stopped then would: its window shuts.
    razor.socket.pause();
    let answered = false;
    void razor.call('big').then(
      () => (answered = true),
      () => undefined,
    );
    // Its own side learns nothing until it reads again (the server's FIN waits behind the reply).
    await waitFor(() => s.server.stats().connections === 0 || undefined, { ...BOUND, what: 'the connection gone from the server' });
    expect(answered).toBe(false);
    expect(said(s, STALL_LINE)).toBe(true);
  }, 30_000);
});

describe('a live client reading slowly behind a full send buffer', () => {
  // 32 MiB replies through a relay at 12 MiB/s, a few KiB at a time: the server's buffer stays
  // over its mark for seconds, several times keepaliveMs + keepaliveTimeoutMs, and bytes leave it all along.
  // Over TLS the relay passes the encrypted bytes on; a count that moved only per whole write
  // (the TLS socket's own, one 32 MiB reply) would take this reader for a frozen one. TCP and TLS
  // servers are in the next describe, which also counts that no drain came while they were judged.
  it.each([
    ['ws', () => wsTransport(), () => wsTransport()],
    ['uWebSockets.js', () => uwsTransport(), () => wsTransport()],
    ['wss', () => wsTransport({ tls: serverTls() }), () => wsTransport({ tls: clientTls() })],
  ] as const)('is not closed (%s server)', async (_name, serverTransport, clientTransport) => {
    const s = await listen(serverTransport(), SLOWER, 32 * 1024 * 1024);
    const relay = await startTcpRelay(s.address);
    cleanup.push(() => relay.close());
    // What is judged is the server's stall check; the client's own keepalive (5 s by default) is
    // given room, so that a CPU-starved relay (a loaded CI machine) does not end it first.
    const client = await ClientStream.connect({ transport: clientTransport(), address: relay.address, keepaliveTimeoutMs: 30_000 });
    cleanup.push(() => client.destroy());
    relay.throttle(12 * 1024 * 1024);
    const reply = await client.call('big', EMPTY_BYTES, { timeoutMs: 60_000 });
    expect(reply.blob.length).toBe(32 * 1024 * 1024);
    expect(client.state).toBe('open');
    expect(s.server.stats().connections).toBe(1);
    expect(said(s, STALL_LINE)).toBe(false);
  }, 60_000);
});

// A drain (the writer's buffer emptied) ends the watch too, so a reader judged across drains
// would not show that bytes taken keep it: here none can come while it is judged (counted below),
// and a check that ignored the bytes taken ends it after 800 ms.
describe('a slow reader that the server never sees drain: only the bytes its kernel takes keep it', () => {
  const RATE = 12 * 1024 * 1024;
  /**
   * How far the reader reads before it is judged: the relay passes at most RATE a second (after a
   * catch-up of 250 ms worth), so reaching it takes at least (24 − 3) / 12 = 1.75 s, over twice the bound.
   */
  const READ = 24 * 1024 * 1024;
  /**
   * Larger than READ and every kernel buffer between the server and the relay together, with room
   * to spare: at any moment of the read, the server's kernel can have taken at most what the relay
   * read and what those buffers hold, so part of the reply is still in the server's own buffer, and
   * the connection is congested without a break (no drain, which would reset the check).
   */
  const REPLY = tcpBufferCeiling() + READ + 8 * 1024 * 1024;
  // The relay counts the bytes it read from the server (over TLS, the encrypted ones, no fewer
  // than the reply's): the premise below is counted, not timed.
  it.each([
    ['TCP', () => transport, () => transport],
    ['TLS', () => tcpTransport(nodeRuntime, { tls: serverTls() }), () => tcpTransport(nodeRuntime, { tls: clientTls() })],
  ] as const)('is not closed while it reads, congested for over twice the bound (%s server)', async (_name, serverTransport, clientTransport) => {
    const s = await listen(serverTransport(), SLOWER, REPLY);
    const relay = await startTcpRelay(s.address);
    cleanup.push(() => relay.close());
    // Past the default 64 MiB blob: the reply is sized from this host's buffers.
    const client = await ClientStream.connect({ transport: clientTransport(), address: relay.address, keepaliveTimeoutMs: 30_000, limits: { maxBlob: REPLY } });
    cleanup.push(() => client.destroy());
    // The relay dials the server once the client is connected to it: the server has it before the watch below.
    await waitFor(() => s.server.stats().connections === 1 || undefined, { ...BOUND, what: 'the connection on the server' });
    relay.throttle(RATE);
    // Not awaited: the test ends once READ bytes have come, long before the reply's end.
    void client.call('big', EMPTY_BYTES, { timeoutMs: 60_000 }).catch(() => undefined);
    await waitFor(() => relay.fromTarget() >= READ || s.server.stats().connections === 0 || undefined, { ...BOUND, what: 'the reader reading READ bytes, or its connection ended' });
    // Counted premise: what the server's kernel has taken is short of the reply by more than the
    // kernels hold, so the server's writer has waited for its drain since the reply began.
    expect(REPLY - relay.fromTarget()).toBeGreaterThan(tcpBufferCeiling() + (1 << 20));
    expect(said(s, STALL_LINE)).toBe(false);
    expect(s.server.stats().connections).toBe(1);
    expect(client.state).toBe('open');
  }, 30_000);
});
