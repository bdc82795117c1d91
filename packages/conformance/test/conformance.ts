import { createClient } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, type Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { ClientStream, DEFAULT_LIMITS, protocol } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { describeNeeding, makeTestCerts, tmpSocketPath, waitFor, within, type Proc, type TestCerts } from '@skein/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Action, Calculator, type MemoryReport } from '../src/contract.mjs';
import { SCENARIOS } from '../src/scenarios.mjs';
import { conformanceTls } from '../src/tls.mjs';
import { expected, type ScenarioName } from '../src/expected.js';
import { CLIENT_CHECKS, CLIENT_CHECK_NAMES, type ClientCheckName } from './client-checks.js';
import type { MatrixRow, ServerConfig } from './matrix.js';
import { rawPeer, requestHeader } from './raw-peer.js';
import { rowSlots } from './row-slots.js';
import { fixture, launch, reap, type RuntimeName } from './runtimes.js';

const utf8 = new TextEncoder();
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Generous bounds, only so that a bug fails a test instead of hanging the run. */
const START_MS = 60_000;
const HANG_MS = 20_000;

/** The server process of a describe block, once its beforeAll has run. */
interface Running {
  proc: Proc;
  address: string;
}

const RUNTIMES: readonly RuntimeName[] = ['node', 'bun', 'deno'];

/** The binaries a runtime needs besides this Node process: bun and deno are installed apart. */
const binariesOf = (r: RuntimeName): string[] => (r === 'node' ? [] : [r]);

const title = (s: ServerConfig): string => `${s.runtime} server, ${s.transport}${s.tls ? ' over TLS' : ''} on a ${s.socket === 'tcp' ? 'TCP port' : 'Unix socket'}`;

/** The wire a client dials for a server transport: the uWS server speaks WebSocket too. */
const clientKind = (s: ServerConfig): 'tcp' | 'ws' => (s.transport === 'tcp' ? 'tcp' : 'ws');
const clientTransport = (s: ServerConfig): Transport => {
  const tls = s.tls ? conformanceTls('client') : undefined;
  return s.transport === 'tcp' ? tcpTransport(runtime, { tls }) : wsTransport({ tls });
};

/**
 * Client checks a cell cannot pass yet, and why (a runtime's defect, named until it is mended):
 * the check is skipped there, saying so in its title.
 */
const CHECK_GAPS: Partial<Record<ClientCheckName, (cell: { client: RuntimeName; server: ServerConfig }) => string | undefined>> = {
  connectTimeout: ({ client, server }) =>
    client === 'deno' && server.tls && clientKind(server) === 'tcp'
      ? "Deno's own TLS (Deno.connectTls, Deno.startTls) keeps the TCP socket open when a TlsConn is closed during its handshake: the peer sees no close until the process exits, so a tls:// connect given up by its timeout or signal leaks its socket (runtime-deno)"
      : undefined,
};

/**
 * The client checks a cell runs: the connect timeout only where the connect has a handshake to
 * leave unanswered (WebSocket, TLS). Plain TCP is up once the socket is, and the check would only
 * time a local connect.
 */
const checksOf = (server: ServerConfig): ClientCheckName[] =>
  CLIENT_CHECK_NAMES.filter((n) => n !== 'connectTimeout' || server.tls || clientKind(server) === 'ws');

/** A TLS row's addresses: the server listens on tls:// or wss://, and clients dial the same scheme. */
const scheme = (s: ServerConfig): string => (!s.tls ? '' : clientKind(s) === 'tcp' ? 'tls://' : 'wss://');

/** Two rows at once. */
const slots = rowSlots(2);
/** How long a row may wait for its slot: the rows before it, each well within its own bounds. */
const ROW_WAIT_MS = 20 * 60_000;

/** The TLS rows' certificates, while a TLS row runs, and how many such rows are running. */
let certs: TestCerts | undefined;
let certUsers = 0;

/**
 * A TLS row: a throwaway CA and server certificate for its processes, named in the environment
 * the children inherit (see src/tls.mjs). One set for every TLS row running (rows run side by
 * side, and the environment is the process's): made by the first, removed when the last ends.
 */
function useTestCerts(): void {
  beforeAll(() => {
    certs ??= makeTestCerts();
    certUsers++;
    process.env.SKEIN_TLS_DIR = certs.dir;
  });
  afterAll(() => {
    if (--certUsers > 0) return;
    certs?.remove();
    certs = undefined;
  });
}

/**
 * The conformance suite for one row of the matrix: one server process, started once; each client
 * runtime runs its scenarios against it (the Node client in this process, the others as child
 * processes); the Node client then sends malformed frames; the last test closes the server.
 * Rows run two at a time (each has a server and clients of its own; their bounds only turn a
 * hang into a failure); within a row, everything in turn.
 */
export function describeConformance(row: MatrixRow): void {
  const { server } = row;
  const body = (): void => {
    slots.take(ROW_WAIT_MS);
    rowBody(row);
  };
  describeNeeding(binariesOf(server.runtime), title(server), body, { concurrent: true });
}

function rowBody(row: MatrixRow): void {
  const { server } = row;
  if (row.refuses) {
    const { why, output } = row.refuses;
    it.sequential(`refuses to listen, saying why (${why})`, async () => {
      const proc = launch(server.runtime, fixture('server.mjs'), [server.transport, '127.0.0.1:0']);
      try {
        await proc.waitForLine(output, START_MS);
        expect(await within(proc.exited, HANG_MS, 'server exit')).toBe(1);
        expect(proc.lines.filter((l) => l.startsWith('listening'))).toEqual([]);
      } finally {
        await reap(proc);
      }
    }, START_MS + HANG_MS);
    return;
  }

  const s = {} as Running;
  if (server.tls) useTestCerts();
  beforeAll(async () => {
    const address = server.socket === 'tcp' ? `${scheme(server)}127.0.0.1:0` : `unix:${tmpSocketPath('conf')}`;
    s.proc = launch(server.runtime, fixture('server.mjs'), [server.transport, address]);
    const [, bound, rt, tr] = await s.proc.waitForLine(/^listening (\S+) runtime=(\w+) transport=(\w+)$/, START_MS);
    // The server really runs where the row says it does.
    expect([rt, tr]).toEqual([server.runtime, server.transport]);
    s.address = scheme(server) + bound!;
  }, START_MS);
  afterAll(() => reap(s.proc));

  for (const client of RUNTIMES) {
    const cell = row.clients?.[client];
    if (!cell) continue;
    if ('gap' in cell) {
      it.skip(`${client} client (skipped: ${cell.gap})`, () => {});
      continue;
    }
    describeNeeding(binariesOf(client), `${client} client`, () => {
      const child = client === 'node' ? undefined : inChild(client, server, s, cell);
      const run = child?.run ?? inProcess(server, s);
      for (const name of cell) {
        it(name, async () => {
          expect(await run(name)).toEqual(expected(name, server, client));
        }, START_MS);
      }
      // The kit's checks of the client transport alone, in the same process as its scenarios.
      for (const name of checksOf(server)) {
        const gap = CHECK_GAPS[name]?.({ client, server });
        if (gap) {
          it.skip(`${CLIENT_CHECKS[name].title} (skipped: ${gap})`, () => {});
          continue;
        }
        it(CLIENT_CHECKS[name].title, async () => {
          expect(await run(name)).toEqual([]);
        }, START_MS);
      }
      if (child) {
        it(`${client} client exits by itself (0) once its scenarios closed their streams`, async () => {
          expect(await within(child.exited(), HANG_MS, `${client} client exit`)).toBe(0);
        }, START_MS);
      }
      // Malformed frames go over a plaintext raw peer: not for TLS rows (their TLS refusals have tests of their own).
      if (client === 'node' && !server.tls) malformedFrames(server, s);
      // Claimed lengths on Bun and Deno servers, TCP and TLS (Node's reader is the kit's, checked in process).
      if (client === 'node' && server.runtime !== 'node' && server.transport === 'tcp' && server.socket === 'tcp') claimedLengths(server, s);
    }, { sequential: true });
  }

  gracefulClose(server, s);
}

/** The Node client: the scenario and check functions, called in this process. */
function inProcess(server: ServerConfig, s: Running) {
  // Made at the first test, not at collection: a TLS row's certificates exist from its beforeAll.
  let transport: Transport | undefined;
  return (name: ScenarioName | ClientCheckName): Promise<unknown> => {
    transport ??= clientTransport(server);
    const running = name in CLIENT_CHECKS ? CLIENT_CHECKS[name as ClientCheckName].run(transport, s.address) : SCENARIOS[name as ScenarioName]({ transport, address: s.address });
    return within<unknown>(running, HANG_MS, name);
  };
}

/**
 * A Bun or Deno client: client.mjs in one child process for the cell, running its scenarios in
 * order (the tests' order) and printing each one's outcome as it ends: a runtime's start is most
 * of a short scenario's time. Each scenario still connects and closes its own streams.
 */
function inChild(client: RuntimeName, server: ServerConfig, s: Running, names: readonly ScenarioName[]) {
  let child: Proc | undefined;
  // Started at the first test, not at collection: the server's address exists from its beforeAll.
  const checks = checksOf(server).filter((n) => !CHECK_GAPS[n]?.({ client, server }));
  const started = (): Proc => (child ??= launch(client, fixture('client.mjs'), [clientKind(server), s.address, ...names, ...checks]));
  afterAll(() => reap(child));
  return {
    run: async (name: ScenarioName | ClientCheckName): Promise<unknown> => {
      const [, kind, json] = await started().waitForLine(new RegExp(`^(result|error) ${name} (.*)$`), START_MS);
      if (kind === 'error') throw new Error(`${client} client failed ${name}: ${json}`);
      return JSON.parse(json!);
    },
    /** It exits by itself once the last scenario closed its streams: a handle left open shows as a hang. */
    exited: (): Promise<number | string> => started().exited,
  };
}

/** Bad bytes close the connection they came on, and only that one. */
function malformedFrames(server: ServerConfig, s: Running): void {
  const kind = clientKind(server);
  const connect = () => ClientStream.connect({ transport: clientTransport(server), address: s.address });
  // The ws server says why with a close code; 1007 is the transport's BadFrame.
  const closeCode = kind === 'ws' ? 1007 : null;

  async function survives(send: Uint8Array): Promise<Buffer> {
    const good = await connect();
    try {
      const bad = await rawPeer(kind, s.address);
      bad.send(send);
      const { bytes, code } = await within(bad.ended, HANG_MS, 'the server to close the bad connection');
      expect(code).toBe(closeCode);
      // The connection that was open all along, and a new one, still work.
      expect(text((await good.call(Action.echo, utf8.encode('still here'))).msg)).toBe('still here');
      const fresh = await connect();
      expect(text((await fresh.call(Action.echo, utf8.encode('new'))).msg)).toBe('new');
      await fresh.close();
      return bytes;
    } finally {
      good.destroy();
    }
  }

  it('a frame with a bad magic closes only its own connection, without a reply', async () => {
    const bytes = await survives(requestHeader((h) => h.set([0xef, 0xbe], 0)));
    expect(bytes.length).toBe(0);
  });

  it('a frame with a bad version is answered rpc_invalid_ver, then only its connection closes', async () => {
    const bytes = await survives(requestHeader((h) => (h[2] = 9)));
    const header = protocol.readResponseHeader(bytes.subarray(0, protocol.RESPONSE_HEADER_LENGTH));
    expect(header).toMatchObject({ flag: 2, seq: 1 });
    const err = protocol.readErrorBytes(bytes.subarray(protocol.RESPONSE_HEADER_LENGTH, protocol.RESPONSE_HEADER_LENGTH + header.blobLength));
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(ErrorCode.Version);
  });
}

/** The matrix server's readTimeoutMs (RpcServer's default): a frame left unfinished that long closes its connection. */
const READ_TIMEOUT_MS = 5_000;
/** Connections that each claim STALL_CLAIM bytes of message (within the server's 16 MiB limit), send STALL_SENT of it, and stall. */
const STALLERS = 50;
const STALL_CLAIM = 15 << 20;
const STALL_SENT = 1024;
/** What each claiming connection writes: its header and STALL_SENT bytes of the message. */
const CLAIM_BYTES = protocol.REQUEST_HEADER_LENGTH + STALL_SENT;
/** What the server's memory may grow by while they stall: generous next to what they sent (50 KiB), far below what they claimed (750 MiB). */
const STALL_GROWTH = 64 << 20;

/** A razor v1 request header for `Action.echo` claiming a message of `msgLength` bytes. */
function claiming(msgLength: number, seq = 1): Uint8Array {
  const h = new Uint8Array(protocol.REQUEST_HEADER_LENGTH);
  protocol.writeRequestHeader(h, Action.echo, 0, seq, msgLength, 0);
  return h;
}

/** The error a raw peer received: the first reply's, which must be an error string. */
function replyError(bytes: Buffer): { error: unknown; frameBytes: number } {
  const header = protocol.readResponseHeader(bytes.subarray(0, protocol.RESPONSE_HEADER_LENGTH));
  expect(header.flag).toBe(2);
  const end = protocol.RESPONSE_HEADER_LENGTH + header.blobLength;
  return { error: protocol.readErrorBytes(bytes.subarray(protocol.RESPONSE_HEADER_LENGTH, end)), frameBytes: end };
}

const mibOf = (n: number): string => `${(n / (1 << 20)).toFixed(1)} MiB`;

/**
 * A stranger's header must not make the server reserve what it claims: memory grows with the
 * bytes received, never the bytes claimed; a claim past the limits is refused at the header
 * (FrameTooLarge) and closes only its own connection; a header in 1-byte pieces still parses. Raw
 * node:net / node:tls peers, against the row's server process (Bun or Deno), which answers
 * `Action.memory` with its own figures.
 */
function claimedLengths(server: ServerConfig, s: Running): void {
  const connect = () => ClientStream.connect({ transport: clientTransport(server), address: s.address });
  const call = async (action: number, msg?: Uint8Array): Promise<string> => {
    const c = await connect();
    try {
      return text((await within(c.call(action, msg), HANG_MS, `action ${action}`)).msg);
    } finally {
      await c.close();
    }
  };
  const servesHonestClient = async (): Promise<void> => expect(await call(Action.echo, utf8.encode('honest'))).toBe('honest');

  const overLimit: [string, number][] = [
    ["just over the server's 16 MiB message limit", DEFAULT_LIMITS.maxMessage + 1],
    ['of 2^32-1 bytes', 0xffff_ffff],
  ];
  for (const [what, length] of overLimit) {
    it(`a request header claiming a message ${what} is refused at the header with FrameTooLarge, closing only its connection`, async () => {
      const bad = await rawPeer('tcp', s.address);
      bad.send(claiming(length));
      // A little of the claimed body: the server closes without waiting for the rest.
      bad.send(new Uint8Array(STALL_SENT).fill(0x61));
      const { bytes } = await within(bad.ended, HANG_MS, 'the server to close the connection that claimed too much');
      const { error, frameBytes } = replyError(bytes);
      expect(error).toBeInstanceOf(RpcError);
      expect((error as RpcError).code).toBe(ErrorCode.FrameTooLarge);
      expect(bytes.length).toBe(frameBytes); // that one reply, then the close
      // The server says why (the first of the kind whole; later ones counted, so any length).
      await s.proc.waitForLine(/message of \d+ bytes exceeds 16777216/, HANG_MS);
      await servesHonestClient();
    }, START_MS);
  }

  it(`${STALLERS} connections claiming ${mibOf(STALL_CLAIM)} each and sending ${STALL_SENT} bytes: memory grows with bytes received, readTimeoutMs closes them`, async () => {
    // One connection for every sample: none opened between them holds part of a frame, nor costs a TLS handshake each.
    const sampler = await connect();
    const memory = async (): Promise<MemoryReport> => JSON.parse(text((await within(sampler.call(Action.memory), HANG_MS, 'Action.memory')).msg));
    const before = await memory();
    const peers = await Promise.all(Array.from({ length: STALLERS }, () => rawPeer('tcp', s.address)));
    let closed = 0;
    const endings = Promise.all(peers.map((p) => p.ended.finally(() => closed++)));
    try {
      for (const [i, p] of peers.entries()) {
        p.send(claiming(STALL_CLAIM, i + 1));
        p.send(new Uint8Array(STALL_SENT).fill(0x61));
      }
      let grew = { rss: 0, external: 0 };
      const sample = async (): Promise<MemoryReport> => {
        const now = await memory();
        grew = { rss: Math.max(grew.rss, now.rss - before.rss), external: Math.max(grew.external, now.external - before.external) };
        return now;
      };
      // Sampled until the server has read the claims (an event, not a time): its reply lists
      // STALLERS connections holding part of a frame with every byte written (no other holds that
      // much mid-frame), each header read and its frame started. A peer closed before that ends the wait.
      const read = (now: MemoryReport): boolean => now.midFrame.filter((n) => n >= CLAIM_BYTES).length >= STALLERS;
      await waitFor(async () => read(await sample()) || closed > 0, { timeoutMs: HANG_MS, intervalMs: 5, what: 'the server to read the claims' });
      // Once more after the event: what a read reserved at a header is held until readTimeoutMs closes its connection.
      await sample();
      // The server held them all (not refused at the header) while it was measured.
      const openWhenRead = STALLERS - closed;
      console.log(`${title(server)}: ${STALLERS} x ${mibOf(STALL_CLAIM)} claimed, ${STALLERS * STALL_SENT} bytes sent; server grew at most rss ${mibOf(grew.rss)}, external ${mibOf(grew.external)}`);
      expect(openWhenRead).toBe(STALLERS);
      expect(grew.rss).toBeLessThan(STALL_GROWTH);
      expect(grew.external).toBeLessThan(STALL_GROWTH);
      // Then it closes each, silently, once its frame is overdue.
      const ended = await within(endings, HANG_MS + READ_TIMEOUT_MS, 'readTimeoutMs to close the claiming connections');
      expect(ended.map((e) => e.bytes.length)).toEqual(peers.map(() => 0));
      await servesHonestClient();
    } finally {
      for (const p of peers) p.close();
      sampler.destroy();
    }
  }, START_MS + READ_TIMEOUT_MS);

  it('a request header written a byte at a time still parses, and its call is answered', async () => {
    const peer = await rawPeer('tcp', s.address);
    try {
      const body = utf8.encode('dribbled');
      const frame = Buffer.concat([claiming(body.length, 7), body]);
      for (let i = 0; i < protocol.REQUEST_HEADER_LENGTH; i++) {
        peer.send(frame.subarray(i, i + 1));
        await new Promise((resolve) => setImmediate(resolve)); // each byte its own write, not one coalesced buffer
      }
      peer.send(frame.subarray(protocol.REQUEST_HEADER_LENGTH));
      const length = protocol.RESPONSE_HEADER_LENGTH + body.length;
      await waitFor(() => peer.received().length >= length, { timeoutMs: HANG_MS, what: 'the answer to the dribbled call' });
      const reply = peer.received();
      expect(protocol.readResponseHeader(reply.subarray(0, protocol.RESPONSE_HEADER_LENGTH))).toMatchObject({ flag: 0, seq: 7, msgLength: body.length });
      expect(text(reply.subarray(protocol.RESPONSE_HEADER_LENGTH, length))).toBe('dribbled');
    } finally {
      peer.close();
    }
    await servesHonestClient();
  }, START_MS);
}

/**
 * SIGTERM: calls in flight finish, calls that arrive once the close began are refused with
 * Closed (never run, safe to retry), the server exits 0 without cutting connections, and then
 * every call fails instead of hanging.
 */
function gracefulClose(server: ServerConfig, s: Running): void {
  it.sequential('closes gracefully on SIGTERM: in-flight calls finish, new ones are refused, the process exits 0', async () => {
    const transport = clientTransport(server);
    const stream = await ClientStream.connect({ transport, address: s.address });
    const calc = createClient(Calculator, stream, { codec: msgpackCodec });
    try {
      const running = (): number => s.proc.lines.filter((l) => /^gate \d+$/.test(l)).length;
      const gatesBefore = running();
      // Each gate call answers 'gate-done' once the server is closing and got SIGUSR2.
      const gates = Promise.all([1, 2, 3].map(() => stream.call(Action.gate).then((r) => text(r.msg), (e: Error) => e.message)));
      const settledTooSoon = gates.then((r) => Promise.reject(new Error(`gate calls settled before the close: ${r.join('; ')}`)));
      await Promise.race([
        waitFor(() => running() === gatesBefore + 3, { timeoutMs: HANG_MS, what: 'three gate calls running on the server' }),
        settledTooSoon,
      ]);

      s.proc.kill('SIGTERM');
      await s.proc.waitForLine(/^closing$/, HANG_MS);
      // The server printed `closing` as it called close(): from then on every call is refused,
      // the first one too, whether its listeners have closed yet or not.
      const refused = await within(stream.call(Action.echo).then(() => undefined, (e: unknown) => e), HANG_MS, 'the call made once the server is closing');
      expect(refused).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });

      s.proc.kill('SIGUSR2'); // lets the gate calls answer
      expect(await within(gates, HANG_MS, 'the in-flight gate calls')).toEqual(['gate-done', 'gate-done', 'gate-done']);
      expect(await within(s.proc.exited, HANG_MS, 'server exit')).toBe(0);
      expect(s.proc.lines).toContain('closed');
      expect(s.proc.lines.filter((l) => /close wait over|close-error/.test(l))).toEqual([]);

      // The server is gone: calls on the old stream and new connections fail, none hangs.
      await within(stream.closed(), HANG_MS, 'the client stream to see the close');
      await expect(within(calc.add({ a: 1, b: 2 }), HANG_MS)).rejects.toMatchObject({ code: ErrorCode.Closed });
      const reconnect = ClientStream.connect({ transport, address: s.address, connectTimeoutMs: 5000 });
      await expect(within(reconnect, HANG_MS)).rejects.toMatchObject({ code: ErrorCode.Unreachable });
    } finally {
      stream.destroy();
    }
  }, START_MS);
}
