import { heapAfterGc, rawConnect, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { encodeCallHead } from '../src/wire/call-head.js';
import { DATA_ACTION, ITEM_OVERHEAD, OPEN_ACTION } from '../src/wire/extension-frames.js';
import { REQUEST_HEADER_LENGTH, RESPONSE_HEADER_LENGTH } from '../src/wire/protocol.js';
import type { ServerRequest } from '../src/index.js';
import { startServer, requestFrame as request } from './harness.js';
import { golden } from './golden.js';

const cleanup = cleanups();

const STREAMS = 16;
/** Heap and the buffers' memory outside it, after a full collection. */
const heldNow = (): number => heapAfterGc() + process.memoryUsage().arrayBuffers;
/** The server's receive window per stream (its default). */
const WINDOW = 1024 * 1024;

/**
 * A stream's window bounds what its sender may have unread on the other side: the bytes of its
 * items and 32 a header's worth each (docs/protocol.md, "Streams"). That must bound memory too:
 * a stranger that fills every window with 1-byte items, which the handlers never read, must not
 * make the server hold several times what it sent (each item a buffer of its own cost 8 times
 * its credit).
 */
describe('unread stream items', () => {
  it('of one byte each, filling every window, hold at most about what was received', async () => {
    const opened: ServerRequest[] = [];
    // Opens the stream and never reads it, as a handler stuck elsewhere would.
    const s = await startServer({ 1: (req) => (opened.push(req), new Promise(() => {})) }, { closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const peer = await rawConnect(s.address);
    cleanup.push(() => peer.destroy());
    peer.write(golden.helloRequestFull);
    for (let seq = 1; seq <= STREAMS; seq++) {
      peer.write(request(OPEN_ACTION, seq, encodeCallHead(undefined, undefined)));
      peer.write(request(1, seq));
    }
    await waitFor(() => opened.length === STREAMS, { what: 'the streams opened' });
    const before = heldNow();
    const item = new Uint8Array([7]);
    let received = 0;
    for (let seq = 1; seq <= STREAMS; seq++) {
      const frames: Uint8Array[] = [];
      // Sent while credit is above zero, as the protocol allows.
      for (let credit = WINDOW; credit > 0; credit -= item.length + ITEM_OVERHEAD) frames.push(request(DATA_ACTION, seq, item));
      peer.write(Buffer.concat(frames));
      received += frames.length * (REQUEST_HEADER_LENGTH + item.length);
    }
    await waitFor(() => opened.every((req) => req.stream!.buffered >= WINDOW), { what: 'every window filled', timeoutMs: 20_000 });
    const held = heldNow() - before;
    expect(peer.peerClosed).toBe(false);
    // 16 MiB received; 8.2 times that was held, an object and a buffer per item.
    expect(held / received).toBeLessThan(2);
  });
});

/**
 * The same bound on the client: a server's items the caller has not read wait in the client's
 * inbox, within the window it granted (`streamWindowBytes`). A server that fills it with 1-byte
 * items (one that streams a byte at a time, or one that means harm) must not make the client hold
 * several times that: each item an object and a buffer of its own held about 8 times its credit.
 */
describe("a client's unread stream items", () => {
  it('of one byte each, filling every window, hold at most about what was received', async () => {
    const CLIENT_STREAMS = 8;
    const item = new Uint8Array([7]);
    const s = await startServer(
      {
        drip: async (req) => {
          for (;;) await req.stream!.write(item);
        },
      },
      { closeWaitMs: 0 },
    );
    cleanup.push(() => s.server.close());
    const client = await s.connect({ keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    await client.ping(); // the hello is answered: streams are agreed
    const before = heldNow();
    const streams = Array.from({ length: CLIENT_STREAMS }, () => client.openStream('drip'));
    // Never read: each window fills with what the server may send before it is granted more.
    await waitFor(() => streams.every((st) => st.buffered > WINDOW - 64) || undefined, { what: 'every window filled', timeoutMs: 20_000 });
    const held = heldNow() - before;
    const items = streams.reduce((n, st) => n + st.buffered, 0) / (item.length + ITEM_OVERHEAD);
    const received = items * (RESPONSE_HEADER_LENGTH + item.length);
    // About 8 MiB of frames received; an object and a buffer per item held 8 times that.
    expect(held / received).toBeLessThan(2);
  }, 30_000);
});
