import { ErrorCode, RpcError } from '@skein/core';
import { heapAfterGc, rawConnect, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_HEAD, encodeCallHead, type Metadata } from '../src/wire/call-head.js';
import { OPEN_ACTION } from '../src/wire/extension-frames.js';
import type { ServerRequest } from '../src/index.js';
import { responseFrames, startServer, requestFrame as request } from './harness.js';
import { golden } from './golden.js';

const cleanup = cleanups();

const STREAMS = 256;
/** The head's `remaining_ms`, in front of its entries. */
const REMAINING = 4;
/** An entry of a two-byte key and no value: its key length, the key, its value length. */
const TINY_ENTRY = 1 + 2 + 2;
/** What an entry counts besides its bytes: the protocol's number (docs/protocol.md, "Call head"), not read from the code. */
const HEAD_ENTRY_OVERHEAD = 32;

/** `n` entries, each a distinct two-byte key of printable ASCII and an empty value: the most entries a head's bytes can carry. */
function tinyEntries(n: number): Metadata {
  const m: Record<string, string> = {};
  for (let i = 0; i < n; i++) m[String.fromCharCode(0x21 + (i % 94), 0x21 + Math.floor(i / 94))] = '';
  return m;
}

/**
 * A stranger that opens streams, each with a head of many tiny entries, and never ends them:
 * each handler holds its call, and with it the call's metadata record. What a record holds must
 * stay within about what the server's max_head says a head may be, whatever the entries: 8 KiB of
 * two-byte keys read as 1,637 properties held 98 KB, twelve times max_head, and a connection
 * holds a head per handler it runs (twice maxInFlightPerConn).
 */
describe('call heads of many tiny entries', () => {
  async function openStreams(metadata: Metadata) {
    const opened: ServerRequest[] = [];
    // Every stream's window fits the connection's budget: heads are what is measured here, not windows.
    const s = await startServer({ 1: (req) => (opened.push(req), new Promise(() => {})), echo: (req) => void req.reply(req.msg) }, { closeWaitMs: 0, streamWindowBytes: 64 * 1024 });
    cleanup.push(() => s.server.close());
    const peer = await rawConnect(s.address);
    cleanup.push(() => peer.destroy());
    peer.write(golden.helloRequestFull);
    const head = encodeCallHead(undefined, metadata);
    const before = heapAfterGc();
    for (let seq = 1; seq <= STREAMS; seq++) peer.write(Buffer.concat([request(OPEN_ACTION, seq, head), request(1, seq)]));
    const refused = () => responseFrames(peer.received()).filter((f) => f.seq >= 1 && f.flag === 2);
    await waitFor(() => opened.length + refused().length === STREAMS, { what: 'every stream opened or refused', timeoutMs: 20_000 });
    const heldPerHead = (heapAfterGc() - before) / STREAMS;
    return { s, peer, head, opened, refused: refused(), heldPerHead };
  }

  it('past max_head as counted (32 an entry besides its bytes) are refused, FrameTooLarge, each call alone; an honest client on the same server goes on', async () => {
    const entries = Math.floor((DEFAULT_MAX_HEAD - REMAINING) / TINY_ENTRY);
    const { s, peer, head, opened, refused, heldPerHead } = await openStreams(tinyEntries(entries));
    expect(head.length).toBeLessThanOrEqual(DEFAULT_MAX_HEAD);
    // Nothing of the heads is held: read, each held 12 times max_head.
    expect(heldPerHead).toBeLessThan(2 * DEFAULT_MAX_HEAD);
    expect(opened).toHaveLength(0);
    const counted = head.length + HEAD_ENTRY_OVERHEAD * entries;
    expect(refused).toHaveLength(STREAMS);
    for (const f of refused) {
      expect(new TextDecoder().decode(f.body)).toBe(`rpc_frame_too_large:call head of ${head.length} bytes in ${entries} entries, counted as ${counted} (32 an entry besides its bytes) exceeds the server's 8192`);
    }
    expect(peer.peerClosed).toBe(false);
    const honest = await s.connect({ keepaliveMs: 0 });
    cleanup.push(() => honest.destroy());
    const reply = await honest.call('echo', new Uint8Array([1, 2]), { metadata: { authorization: 'Bearer t' } });
    expect(Array.from(reply.msg)).toEqual([1, 2]);
  });

  it('up to max_head as counted are read whole, and hold at most about twice max_head each', async () => {
    const entries = Math.floor((DEFAULT_MAX_HEAD - REMAINING) / (TINY_ENTRY + HEAD_ENTRY_OVERHEAD));
    const { opened, refused, heldPerHead } = await openStreams(tinyEntries(entries));
    expect(refused).toHaveLength(0);
    expect(opened).toHaveLength(STREAMS);
    expect(Object.keys(opened[0]!.metadata)).toHaveLength(entries);
    expect(heldPerHead).toBeLessThan(2 * DEFAULT_MAX_HEAD);
  });
});

describe("a client's metadata of many tiny entries", () => {
  it('past the server max_head as counted is refused on the client, FrameTooLarge, unsent; the connection goes on', async () => {
    const ran: string[] = [];
    const s = await startServer({ echo: (req) => void (ran.push(Object.keys(req.metadata).join()), req.reply(req.msg)) }, { closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const client = await s.connect({ keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    await client.ping();
    // 300 entries: 1,504 bytes, under 8 KiB, but 11,104 as counted.
    const many = tinyEntries(300);
    const bytes = encodeCallHead(undefined, many).length;
    const tooBig = { code: ErrorCode.FrameTooLarge, message: `metadata of ${bytes} bytes encoded in 300 entries, counted as ${bytes + 300 * HEAD_ENTRY_OVERHEAD} (32 an entry besides its bytes) exceeds the server's limit of 8192` };
    const err = await client.call('echo', undefined, { metadata: many }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject(tooBig);
    await expect(client.openStream('echo', undefined, { metadata: many }).result).rejects.toMatchObject(tooBig);
    await client.call('echo', undefined, { metadata: { k: 'small' } });
    expect(ran).toEqual(['k']);
    expect(client.state).toBe('open');
  });
});
