import { EMPTY_BYTES } from '@skein/core';
import { cleanups, fromHex, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { RequestStream } from '../src/index.js';
import { ClientStream } from '../src/index.js';
import { golden } from './golden.js';
import { rawPeer, readU32, startServer, transport, u32 } from './harness.js';

/*
 * Credit is the client's word; the send buffer is what it takes (docs/protocol.md, "Streams").
 * A client that reads nothing while it sends credit frames, each read on its own, must not let
 * one more item into the server's full send buffer per frame: that memory would grow with what
 * it claims (36 bytes a frame), not with what it reads. Counted in writes the handler got past,
 * not in time: each credit frame is sent once the server has read the one before.
 */

const cleanup = cleanups();

const ITEM = 256 * 1024;
/** Credit frames sent while the buffer is full: each would let an item (256 KiB) in, 50 MiB in all. */
const FRAMES = 200;

const open = fromHex(`254d 01 00 03ffff7f 0100000000000000 0000000000000000 04000000 00000000 ffffffff`);
const request = fromHex(`254d 01 00 04000080 0100000000000000 0000000000000000 00000000 00000000 66656564`);

/** A credit frame for stream seq 1 granting `bytes`. */
function credit(bytes: number): Uint8Array {
  const f = fromHex(`254d 01 00 06ffff7f 0100000000000000 0000000000000000 04000000 00000000 00000000`);
  new DataView(f.buffer).setUint32(32, bytes, true);
  return f;
}

describe('a client that reads nothing and sends credit frames', () => {
  it('lets no item into the full send buffer for them: a held write waits for the drain, and goes on once the client reads', async () => {
    const w = { written: 0, waiting: false, stream: undefined as RequestStream | undefined };
    const s = await startServer(
      {
        feed: async (req) => {
          w.stream = req.stream;
          for (;;) {
            w.waiting = true;
            // A fresh item each time, as an encoder makes one: what a released write holds is its own.
            await req.stream!.write(EMPTY_BYTES, new Uint8Array(ITEM));
            w.waiting = false;
            w.written++;
          }
        },
        7: (req) => req.msg,
      },
      { closeWaitMs: 0, readTimeoutMs: 0 },
    );
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    peer.stopReading();
    // Credit of 4 GiB at once: the handler runs into the full send buffer, not out of credit.
    peer.send(new Uint8Array([...golden.helloRequestFull, ...open, ...request, ...credit(0xffffffff)]));
    // Seen waiting at a poll: its write did not resolve within the turn, so it is held for the drain.
    await waitFor(() => w.waiting && w.written > 0, { what: 'the handler held by the full send buffer' });
    const before = w.written;
    for (let i = 0; i < FRAMES; i++) {
      const credited = w.stream!.credit;
      // A byte's worth each: the item it would release costs far more, so credit is no bound here.
      peer.send(credit(1));
      await waitFor(() => w.stream!.credit !== credited, { what: `credit frame ${i} read`, intervalMs: 1 });
    }
    // Before the fix every frame released one item (200 of 200, 50 MiB for 7 KiB sent). What the
    // kernel still takes meanwhile may release a few by its drains: far under a quarter of them.
    expect(w.written - before).toBeLessThan(FRAMES / 4);
    // Other clients are served meanwhile.
    const other = await ClientStream.connect({ transport, address: s.address });
    cleanup.push(() => other.destroy());
    expect(readU32((await other.call(7, u32(9))).msg)).toBe(9);
    // Held for the drain, not lost: once the client reads, the handler goes on.
    peer.startReading();
    await waitFor(() => w.written >= before + FRAMES, { what: 'the handler writing again once the client reads' });
  });
});
