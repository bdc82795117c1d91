import { ErrorCode, RpcError, type Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { ClientStream, DEFAULT_LIMITS, protocol } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { claimingRequest, describeNeeding, reap, tmpSocketPath, waitFor, within, type Proc } from '@skein/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Action, type MemoryReport } from '../src/contract.mjs';
import { rawPeer, type RawPeer } from './raw-peer.js';
import { fixture, launch, type RuntimeName } from './runtimes.js';

// Headers claiming lengths, against Bun's and Deno's servers on the rows the matrix's claims do
// not reach (it sends message lengths over TCP and TLS ports): action and blob lengths, on a
// Unix socket and over WebSocket. A claim past a limit is refused at its header (FrameTooLarge,
// a warn line) closing that connection alone; claims within the limits hold what arrived, never
// the 81 MiB each claims, measured in the server process (Action.memory) once it has read them.

const START_MS = 60_000;
const HANG_MS = 20_000;
const SENT = 1024;
const STALLERS = 8;
/** What the server may grow by while they stall: far over what they sent (8 KiB), far under what they claimed (648 MiB). */
const STALL_GROWTH = 64 << 20;

type Kind = 'tcp' | 'ws';
const ROWS: { runtime: RuntimeName; kind: Kind; on: () => string }[] = [
  { runtime: 'bun', kind: 'tcp', on: () => `unix:${tmpSocketPath('claims')}` },
  { runtime: 'bun', kind: 'ws', on: () => '127.0.0.1:0' },
  { runtime: 'deno', kind: 'tcp', on: () => `unix:${tmpSocketPath('claims')}` },
  { runtime: 'deno', kind: 'ws', on: () => '127.0.0.1:0' },
];

/** A request header for a string action of `actionLength` bytes, with a message and a blob of the lengths given. */
const request = (actionLength: number, msgLength: number, blobLength: number, seq = 1): Uint8Array => claimingRequest({ actionLength, msgLength, blobLength, seq });

/** A claim and SENT bytes of what it claims, in one write (over WebSocket, one message). */
const claimed = (header: Uint8Array): Uint8Array => Buffer.concat([header, new Uint8Array(SENT).fill(0x61)]);
/** What each claiming connection writes. */
const CLAIM_BYTES = protocol.REQUEST_HEADER_LENGTH + SENT;

const OVER_LIMITS: [Uint8Array, RegExp][] = [
  [request(0x7fff_ffff, 0, 0), /^action of 2147483647 bytes exceeds the server's limit of 1024$/],
  [request(8, 0, 0x7fff_ffff), /^blob of 2147483647 bytes exceeds the server's limit of 67108864$/],
  [request(8, 0, DEFAULT_LIMITS.maxBlob + 1), /^blob of 67108865 bytes exceeds the server's limit of 67108864$/],
];

for (const row of ROWS) {
  const where = row.kind === 'tcp' ? 'a Unix socket' : 'WebSocket';
  describeNeeding([row.runtime], `a ${row.runtime} server on ${where}, against headers claiming lengths`, () => {
    let proc: Proc | undefined;
    let address = '';
    const transport: Transport = row.kind === 'tcp' ? tcpTransport(runtime) : wsTransport();
    const call = async (action: number, msg?: Uint8Array): Promise<Uint8Array> => {
      const c = await ClientStream.connect({ transport, address });
      try {
        return (await within(c.call(action, msg), HANG_MS, `action ${action}`)).msg;
      } finally {
        await c.close();
      }
    };
    const served = async (): Promise<void> => expect([...(await call(Action.echo, new Uint8Array([7])))]).toEqual([7]);

    beforeAll(async () => {
      proc = launch(row.runtime, fixture('server.mjs'), [row.kind, row.on()]);
      const [, bound] = await proc.waitForLine(/^listening (\S+) runtime=\w+ transport=\w+$/, START_MS);
      address = bound!;
    }, START_MS);
    afterAll(() => reap(proc));

    it('refuses an action or blob length past its limit at the header: FrameTooLarge naming it, that connection alone closed', async () => {
      const peers = await Promise.all(OVER_LIMITS.map(() => rawPeer(row.kind, address)));
      try {
        for (const [i, [header]] of OVER_LIMITS.entries()) peers[i]!.send(claimed(header));
        const endings = await within(Promise.all(peers.map((p) => p.ended)), HANG_MS, 'the server to close each connection that claimed too much');
        const errors = endings.map(({ bytes }) => {
          const h = protocol.readResponseHeader(bytes.subarray(0, protocol.RESPONSE_HEADER_LENGTH));
          const err = protocol.readErrorBytes(bytes.subarray(protocol.RESPONSE_HEADER_LENGTH, protocol.RESPONSE_HEADER_LENGTH + h.blobLength)) as RpcError;
          return { flag: h.flag, code: err.code, message: err.message, rest: bytes.length - protocol.RESPONSE_HEADER_LENGTH - h.blobLength };
        });
        // That one reply, then the close.
        expect(errors).toEqual(OVER_LIMITS.map(([, detail]) => ({ flag: 2, code: ErrorCode.FrameTooLarge, message: expect.stringMatching(detail), rest: 0 })));
        await proc!.waitForLine(/action of \d+ bytes exceeds 1024/, HANG_MS);
        await proc!.waitForLine(/blob of \d+ bytes exceeds 67108864/, HANG_MS);
        await served();
      } finally {
        for (const p of peers) p.close();
      }
    }, START_MS);

    it(`${STALLERS} connections claiming an action, message and blob at the limits and sending ${SENT} bytes hold what arrived`, async () => {
      const memory = async (): Promise<MemoryReport> => JSON.parse(new TextDecoder().decode(await call(Action.memory)));
      const before = await memory();
      const peers: RawPeer[] = await Promise.all(Array.from({ length: STALLERS }, () => rawPeer(row.kind, address)));
      try {
        let closed = 0;
        for (const p of peers) void p.ended.then(() => closed++);
        for (const [i, p] of peers.entries()) p.send(claimed(request(DEFAULT_LIMITS.maxAction, DEFAULT_LIMITS.maxMessage, DEFAULT_LIMITS.maxBlob, i + 1)));
        // Sampled until the server has read the claims (an event, not a time): on a socket, its
        // reply lists STALLERS connections holding part of a frame with every byte written (no
        // other connection holds that much mid-frame: the refused ones never start a frame); over
        // WebSocket a frame never spans messages, so each claim was read whole once it is closed.
        let grew = { rss: 0, external: 0 };
        const sample = async (): Promise<MemoryReport> => {
          const now = await memory();
          grew = { rss: Math.max(grew.rss, now.rss - before.rss), external: Math.max(grew.external, now.external - before.external) };
          return now;
        };
        const read = (now: MemoryReport): boolean => (row.kind === 'ws' ? closed === STALLERS : now.midFrame.filter((n) => n >= CLAIM_BYTES).length >= STALLERS);
        await waitFor(async () => read(await sample()), { timeoutMs: HANG_MS, intervalMs: 5, what: 'the server to read the claims' });
        // Once more after the event: what a read reserved is held at least until then.
        await sample();
        console.log(`${row.runtime} ${where}: ${STALLERS} x 81 MiB claimed, ${STALLERS * SENT} bytes sent; server grew at most rss ${(grew.rss / (1 << 20)).toFixed(1)} MiB, external ${(grew.external / (1 << 20)).toFixed(1)} MiB`);
        expect(grew.external).toBeLessThan(STALL_GROWTH);
        expect(grew.rss).toBeLessThan(STALL_GROWTH);
        // None answered: on a socket each waits for its frame's rest (until readTimeoutMs); over
        // WebSocket a frame never spans messages, so each closed at its message's end, unanswered.
        if (row.kind === 'ws') {
          const endings = await within(Promise.all(peers.map((p) => p.ended)), HANG_MS, 'the claims to be closed');
          expect(endings.map((e) => e.bytes.length)).toEqual(peers.map(() => 0));
          await proc!.waitForLine(/message ends mid-frame \(frame needs 83887136 bytes, message has 1056 left\)/, HANG_MS);
        }
        expect(peers.map((p) => p.received().length)).toEqual(peers.map(() => 0));
        await served();
      } finally {
        for (const p of peers) p.close();
      }
    }, START_MS);
  }, { concurrent: true });
}
