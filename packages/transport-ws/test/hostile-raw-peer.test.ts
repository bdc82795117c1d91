import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeNeeding, launch, rawConnect, reap, waitFor, type Proc, type RawSocket, type RuntimeName } from '@skein/test-utils';
import { header, rawWsPeer, wsFrameHeader } from './helpers.js';

// Each WebSocket server (ws on Node, Bun and Deno; uWebSockets.js on Node) in a process of its
// own, against a peer that writes raw bytes on a node:net socket: what it sends breaks HTTP or
// RFC 6455, or claims far more than it sends. Each time the hostile connection is closed, the
// server reports a typed reason, its memory (the child's RSS, a generous bound only) stays far
// under what was claimed, and an honest peer is served next. Each server's process is started
// once for its three tests, which run in turn (they read its lines and its memory); the four
// servers run side by side, since most of a test is waiting on a server's timeout (uWS's own HTTP
// timeout, 10 s, for the unfinished upgrade request).
const fixture = fileURLToPath(new URL('./fixtures/hostile-peer-server.mjs', import.meta.url));
const pkg = new URL('..', import.meta.url);
const MiB = 1024 * 1024;
// lingerMs: a hostile peer never answers the close frame; it is dropped after 200 ms, not 2 s.
const OPTIONS = JSON.stringify({ maxWsMessageBytes: MiB, upgradeTimeoutMs: 1_000, lingerMs: 200 });

type Kind = 'ws' | 'uws';
const SERVERS: { name: string; runtime: RuntimeName; kind: Kind }[] = [
  { name: 'node ws', runtime: 'node', kind: 'ws' },
  { name: 'node uWebSockets.js', runtime: 'node', kind: 'uws' },
  { name: 'bun ws', runtime: 'bun', kind: 'ws' },
  { name: 'deno ws', runtime: 'deno', kind: 'ws' },
];

/** Node runs the built dist/ (it cannot load the .ts sources); Bun and Deno run the sources. */
function start(runtime: RuntimeName, kind: Kind): Proc {
  const entry = new URL(runtime === 'node' ? 'dist/index.js' : 'src/index.ts', pkg);
  return launch(runtime, fixture, [pathToFileURL(fileURLToPath(entry)).href, kind, OPTIONS]);
}

/** A server process's resident memory (Linux): launch runs the runtime's binary itself. */
function rss(server: Proc): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1]) * 1024;
}

/** Each peer's port, kept: a socket its peer closed forgets it. */
const ports = new WeakMap<RawSocket, number>();

/**
 * Waits for the server's line on `p`'s close, said after line `from`, its reason matching `why`.
 * uWS names a peer by its address alone, hence `from`: the cases come one after another.
 */
async function closedAs(server: Proc, kind: Kind, p: RawSocket, why: RegExp, from: number): Promise<void> {
  const prefix = `closed ${kind === 'uws' ? '127.0.0.1' : ports.get(p)} `;
  const said = (): boolean => server.lines.slice(from).some((l) => l.startsWith(prefix) && why.test(l.slice(prefix.length)));
  await waitFor(said, { timeoutMs: 20_000, what: `a line "${prefix}${why.source}"` }).catch((err: Error) => {
    throw new Error(`${err.message}; the server said:\n${server.lines.slice(from).join('\n')}`);
  });
}

/** An honest peer upgrades, sends one frame, gets it back and closes cleanly (1000): the server still serves. */
async function honestPeerServed(port: number, track: <T extends RawSocket>(p: T) => T): Promise<void> {
  const p = track(await rawWsPeer(port));
  const upgrade = p.received().length;
  p.write(new Uint8Array([...wsFrameHeader(2, true, 7, true), ...header(3), 1, 2, 3]));
  // The echo: a 2-byte header (unmasked from a server) and the 7-byte frame.
  await waitFor(() => p.received().length >= upgrade + 9, { timeoutMs: 20_000, what: 'the echo' });
  expect([...p.received().subarray(upgrade + 2, upgrade + 9)]).toEqual([3, 0, 0, 0, 1, 2, 3]);
  p.write(new Uint8Array([...wsFrameHeader(8, true, 2, true), 0x03, 0xe8]));
  await p.closedByPeer;
}

/** A 64-bit length header claiming `length` bytes (a BigInt: 2^63 - 1 is no exact number). */
function claimHeader(length: bigint): Uint8Array {
  const h = new Uint8Array(14);
  h[0] = 0x82;
  h[1] = 0x80 | 127;
  new DataView(h.buffer).setBigUint64(2, length);
  return h;
}

const masked = (opcode: number, fin: boolean, length: number, first = 0): Uint8Array => {
  const h = wsFrameHeader(opcode, fin, length, true);
  h[0] = h[0]! | first;
  return new Uint8Array([...h, ...new Uint8Array(length)]);
};

const TOO_BIG = { ws: /^RpcError 103: websocket closed \(1009 message too big\)/, uws: /^RpcError 103: websocket closed \(1006 abnormal closure\): Received too big message/ };
/** uWS gives no reason for a protocol error: it drops the socket (1006). */
const UWS_BROKEN = /^RpcError 1: websocket closed \(1006 abnormal closure\)$/;
const broken = (why: string): { ws: RegExp; uws: RegExp } => ({ ws: new RegExp(`^RpcError 1: websocket closed \\(1002 protocol error\\): Invalid WebSocket frame: ${why}`), uws: UWS_BROKEN });

/** One binary message of `bytes`, masked (with a zero mask: the bytes go as they are). */
const inMessage = (bytes: number[]): Uint8Array => new Uint8Array([...wsFrameHeader(2, true, bytes.length, true), ...bytes]);
/** The FrameSpec refused it: the same FrameError on every server. */
const frameError = (why: RegExp): { ws: RegExp; uws: RegExp } => ({ ws: new RegExp(`^FrameError -: ${why.source}`), uws: new RegExp(`^FrameError -: ${why.source}`) });

/** Bytes sent after the upgrade, and the close line each server gives. uws undefined: not checked (see the test's note). */
const FRAME_CASES: { name: string; bytes: () => Uint8Array; expect: { ws: RegExp; uws?: RegExp } }[] = [
  { name: 'a header claiming 2^63 - 1 bytes, then 8 bytes', bytes: () => new Uint8Array([...claimHeader(2n ** 63n - 1n), ...new Uint8Array(8)]), expect: TOO_BIG },
  { name: 'a header claiming 1 GiB, then 8 bytes', bytes: () => new Uint8Array([...claimHeader(2n ** 30n), ...new Uint8Array(8)]), expect: TOO_BIG },
  // Frames inside a message, as a Skein server's spec reads them (a razor header claims its body's length).
  { name: 'a frame in a message claiming 4 GiB - 1 bytes, over the spec\'s limit', bytes: () => inMessage([...header(2 ** 32 - 1), 1, 2]), expect: frameError(/body of 4294967295 bytes is over 16777216/) },
  { name: 'a frame in a message claiming 1 MiB, within the limit, and a message of 10 bytes', bytes: () => inMessage([...header(MiB), 1, 2, 3, 4, 5, 6]), expect: frameError(/message ends mid-frame/) },
  { name: 'fragments that sum past maxWsMessageBytes', bytes: () => new Uint8Array([...masked(2, false, 600_000), ...masked(0, false, 600_000)]), expect: TOO_BIG },
  // uWebSockets.js does not check the mask bit: it reads the payload's first 4 bytes as the
  // mask and waits for 4 more (its idle timeout ends it). Reported, not fixable from Skein.
  { name: 'an unmasked data frame', bytes: () => new Uint8Array([...wsFrameHeader(2, true, 7, false), ...header(3), 1, 2, 3]), expect: { ws: broken('MASK must be set').ws } },
  { name: 'a ping of 126 bytes (control frames hold at most 125)', bytes: () => masked(9, true, 126), expect: broken('invalid payload length 126') },
  { name: 'a fragmented ping', bytes: () => masked(9, false, 10), expect: broken('FIN must be set') },
  { name: 'a reserved opcode', bytes: () => masked(3, true, 2), expect: broken('invalid opcode 3') },
  { name: 'RSV1 set without an extension', bytes: () => masked(2, true, 2, 0x40), expect: broken('RSV1 must be clear') },
  { name: 'a continuation with no message begun', bytes: () => masked(0, true, 2), expect: broken('invalid opcode 0') },
];

/** Writes `chunk` until the peer closes or `most` bytes went; returns how many went. */
async function flood(p: RawSocket, chunk: Uint8Array, most: number): Promise<number> {
  let sent = 0;
  while (!p.peerClosed && !p.socket.destroyed && sent < most) {
    await new Promise((resolve) => p.socket.write(chunk, resolve));
    sent += chunk.length;
  }
  return sent;
}

for (const s of SERVERS) {
  const needs = s.runtime === 'node' ? [] : [s.runtime];
  describeNeeding(needs, `${s.name} server`, () => serverTests(s), { concurrent: true });
}

function serverTests(s: (typeof SERVERS)[number]): void {
  let server: Proc;
  let port: number;
  beforeAll(async () => {
    server = start(s.runtime, s.kind);
    port = Number((await server.waitForLine(/^listening (\d+)$/))[1]);
  }, 60_000);
  afterAll(() => reap(server));
  const peers: RawSocket[] = [];
  afterEach(() => {
    for (const p of peers.splice(0)) p.destroy();
  });
  const track = <T extends RawSocket>(p: T): T => (peers.push(p), ports.set(p, p.socket.localPort!), p);
  const served = (): Promise<void> => honestPeerServed(port, track);

  it.sequential(`each frame that breaks RFC 6455 or claims past the limit closes that connection alone, typed, holding nothing it claimed`, async () => {
    await served();
    const before = rss(server);
    for (const c of FRAME_CASES) {
      const expected = c.expect[s.kind];
      if (expected === undefined) continue;
      const p = track(await rawWsPeer(port));
      const from = server.lines.length;
      p.write(c.bytes());
      expect(await p.closedByPeer, c.name).toBeDefined();
      await closedAs(server, s.kind, p, expected, from);
      await served();
    }
    // 2^63 and 1 GiB were claimed; about 1.2 MB was sent.
    expect(rss(server) - before).toBeLessThan(64 * MiB);
  }, 60_000);

  it.sequential(`an upgrade request past the header limit, one that is not HTTP, or one never finished closes that connection alone${s.kind === 'ws' ? ', typed' : ''}`, async () => {
    const before = rss(server);
    // Half a request, never finished: ws's upgradeTimeoutMs (1 s here), uWS's own HTTP timeout
    // (10 s). Sent first, so that its wait runs beside the requests below; checked after them.
    const halfFrom = server.lines.length;
    const half = track(await rawConnect(`127.0.0.1:${port}`));
    half.write(new TextEncoder().encode('GET /skein HTTP/1.1\r\nHost: x\r\n'));
    const requests: { name: string; open: string; chunk: Uint8Array; ws: RegExp }[] = [
      { name: 'one header of megabytes', open: 'GET /skein HTTP/1.1\r\nHost: x\r\nX-Big: ', chunk: new Uint8Array(64 * 1024).fill(97), ws: /^RpcError 103: upgrade request refused \(431\): its header fields are over the HTTP server's \d+ bytes$/ },
      { name: 'header after header', open: 'GET /skein HTTP/1.1\r\nHost: x\r\n', chunk: new TextEncoder().encode('X-A: b\r\n'.repeat(8192)), ws: /^RpcError 103: upgrade request refused \(431\)/ },
      { name: 'bytes that are not HTTP', open: '', chunk: new Uint8Array(64 * 1024).fill(0), ws: /^FrameError -: upgrade request refused \(400\): not an HTTP request/ },
    ];
    for (const r of requests) {
      const from = server.lines.length;
      const p = track(await rawConnect(`127.0.0.1:${port}`));
      p.write(new TextEncoder().encode(r.open));
      // Refused after the parser's limit (16 KiB on Node), far before the 64 MiB cap.
      expect(await flood(p, r.chunk, 64 * MiB), r.name).toBeLessThan(16 * MiB);
      expect(await p.closedByPeer, r.name).toBeDefined();
      if (s.kind === 'ws') await closedAs(server, s.kind, p, r.ws, from);
      await served();
    }
    expect(await half.closedByPeer).toBeDefined();
    if (s.kind === 'ws') await closedAs(server, s.kind, half, /^RpcError 2: WebSocket upgrade not done within 1000 ms$/, halfFrom);
    await served();
    expect(rss(server) - before).toBeLessThan(64 * MiB);
  }, 60_000);

  it.sequential(`a peer that pings and never reads is dropped before its answers pile up`, async () => {
    const p = track(await rawWsPeer(port));
    const from = server.lines.length;
    p.socket.pause();
    const ping = masked(9, true, 125);
    const pings = new Uint8Array(ping.length * 1000);
    for (let i = 0; i < 1000; i++) pings.set(ping, i * ping.length);
    // Under Bun, ws answered every ping while its answers waited unsent (Bun's ws has no
    // maxPendingAutoPongs): the peer was never dropped and the server held 16 MiB of answers.
    expect(await flood(p, pings, 256 * MiB)).toBeLessThan(64 * MiB);
    // ws drops it past 60 unsent answers, saying no more than 1006; uWS and Bun's ws are dropped by the conn, typed.
    const counted = s.kind === 'uws' || s.runtime === 'bun';
    await closedAs(server, s.kind, p, counted ? /^RpcError 101: the peer left \d+ bytes of answers to its pings unread, over maxHeldBytes \(1048576\), while congested$/ : /^RpcError 1: websocket closed \(1006 abnormal closure\)$/, from);
    await served();
  }, 60_000);
}
