import { EMPTY_BYTES } from '@skein/core';
import { cleanups, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream } from '../src/index.js';
import { CREDIT_FLAG, DATA_FLAG } from '../src/wire/extension-frames.js';
import { RESPONSE_HEADER_LENGTH, writeResponseHeader, type ResponseFlag } from '../src/wire/protocol.js';
import { writeCountingTransport, deafServer, responseFrame } from './harness.js';

/*
 * The client's side of stream-credit-full-buffer.test.ts: credit is the server's word; the send
 * buffer is what it takes (docs/protocol.md, "Streams"). A server that reads nothing while it
 * sends credit frames, each read on its own, must not let one more of a client stream's items
 * into the client's full send buffer per frame: that memory would grow with what the server
 * claims (20 bytes a frame), not with what it reads. Counted in bytes the client handed its
 * connection, not in time: each credit frame goes once the client has read the one before.
 */

const cleanup = cleanups();

const ITEM = 256 * 1024;
/** Credit frames sent while the buffer is full: each would let an item (256 KiB) in, 50 MiB in all. */
const FRAMES = 200;

/** The server's credit frame for stream `seq` granting `bytes` (flag 4, the bytes in msg_len, no body). */
function credit(seq: number, bytes: number): Uint8Array {
  const f = new Uint8Array(RESPONSE_HEADER_LENGTH);
  writeResponseHeader(f, CREDIT_FLAG as ResponseFlag, bytes, seq, 0);
  return f;
}

describe('a server that reads nothing and sends credit frames', () => {
  it("lets none of a client stream's items into the client's full send buffer for them: a held write waits for the drain, and goes on once the server reads", async () => {
    const srv = await deafServer(cleanup);
    const counting = writeCountingTransport();
    const client = await ClientStream.connect({ transport: counting.transport, address: srv.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const sock = await srv.socket;
    cleanup.push(() => sock.destroy());
    await waitFor(() => client.hello.dialect === 'agreed', { what: 'the hello answered' });
    const stream = client.openStream('feed');
    cleanup.push(() => stream.cancel());
    const w = { written: 0, waiting: false };
    const writer = (async () => {
      for (;;) {
        w.waiting = true;
        // A fresh item each time, as an encoder makes one: what a released write holds is its own.
        await stream.write(EMPTY_BYTES, new Uint8Array(ITEM));
        w.waiting = false;
        w.written++;
      }
    })();
    writer.catch(() => {});
    // An item of the server's after each frame tells when the client has read it (it counts it unread).
    const told = (frame: Uint8Array) => new Uint8Array(Buffer.concat([frame, responseFrame(DATA_FLAG, stream.seq, new Uint8Array([1]))]));
    const read = async (frame: Uint8Array, what: string) => {
      const unread = stream.buffered;
      sock.write(told(frame));
      await waitFor(() => stream.buffered !== unread, { what, intervalMs: 1 });
    };
    // Credit of 4 GiB at once: the writer runs into the full send buffer, not out of credit.
    await read(credit(stream.seq, 0xffffffff), 'the 4 GiB of credit read');
    const conn = counting.conns[0]!;
    // Seen waiting at a poll with the buffer full: its write did not resolve within the turn, so it is held for the drain.
    await waitFor(() => w.waiting && w.written > 0 && conn.congested, { what: 'the writer held by the full send buffer' });
    const before = counting.written();
    const items = w.written;
    // A byte's worth each: the item it would release costs far more, so credit is no bound here.
    for (let i = 0; i < FRAMES; i++) await read(credit(stream.seq, 1), `credit frame ${i} read`);
    // Before the fix every frame released one item (200 of 200, 50 MiB for 4 KiB of frames). What
    // the kernel still takes meanwhile may release a few by its drains: far under a quarter of them.
    expect(counting.written() - before).toBeLessThan((FRAMES / 4) * ITEM);
    expect(w.written - items).toBeLessThan(FRAMES / 4);
    // Held for the drain, not lost: once the server reads (and drops) what comes, the writer goes on.
    sock.resume();
    await waitFor(() => w.written >= items + FRAMES, { what: 'the writer writing again once the server reads' });
    expect(client.state).toBe('open');
  });
});
