import { describe, expect, it } from 'vitest';
import { FrameError, type FrameConn, type FrameSpec } from '@skein/core';
import { cleanups, closeRecorder, fullGc, waitFor, type CloseRecorder } from '@skein/test-utils';
import { h2Transport } from './h2-transport.js';

/*
 * A third party's byte-stream transport framed by @skein/transport-tcp's authors' export
 * (h2-transport.ts) holds, of a frame whose header claims far more than its peer sent, only
 * what arrived, charged to one pending-frame budget per listener: the framing's guarantees reach
 * transports that are not tcpTransport, without a line of their own.
 */

const cleanup = cleanups();
const KiB = 1024;
const MiB = 1024 * KiB;
/** The listener's budget: less than one claim, more than what one peer sends of it. */
const BUDGET = MiB;
const CLAIMED = 48 * MiB;
const SENT = 600 * KiB;

/** 4 bytes of little-endian body length, then the body: up to 64 MiB. */
const spec: FrameSpec = {
  headerLength: 4,
  bodyLength: (bytes, at) => new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true),
};

/** A frame's header claiming CLAIMED bytes of body, and SENT bytes of that body. */
function claim(): Uint8Array {
  const bytes = new Uint8Array(4 + SENT).fill(0x61);
  new DataView(bytes.buffer).setUint32(0, CLAIMED, true);
  return bytes;
}

interface Accepted {
  conn: FrameConn;
  frames: number;
  closing: CloseRecorder;
}

/** A server on the h2 transport, each connection it accepts recorded, and a client that writes `bytes` to it. */
async function server() {
  const transport = h2Transport({ maxPendingFrameBytes: BUDGET });
  const accepted: Accepted[] = [];
  const listener = await transport.listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => {
    const side: Accepted = { conn, frames: 0, closing: closeRecorder() };
    conn.bind({ frame: () => void side.frames++, drain: () => {}, close: side.closing.close });
    accepted.push(side);
  });
  cleanup.push(() => listener.close());
  /** Sends `bytes` on a new connection; resolves with the server's side once it has them all, or closed. */
  const peer = async (bytes: Uint8Array): Promise<Accepted> => {
    // Accepted once its request's headers arrive: before the connect resolves, on the answer to them.
    const index = accepted.length;
    const client = await transport.connect(listener.address, spec);
    cleanup.push(() => client.close());
    client.bind({ frame: () => {}, drain: () => {}, close: () => {} });
    client.write(bytes);
    client.flush();
    await waitFor(() => accepted.length > index, { what: 'the connection accepted' });
    const side = accepted[index]!;
    await waitFor(() => side.conn.receivedBytes! >= bytes.length || side.closing.calls.length > 0, { what: `${bytes.length} bytes received` });
    return side;
  };
  return { peer };
}

describe('a byte-stream transport framed by byteStreamFraming (HTTP/2 streams)', () => {
  it('holds what arrived of a frame claimed huge, charged to the listener\'s budget, never the claim', async () => {
    const { peer } = await server();
    const bytes = claim();
    fullGc();
    const before = process.memoryUsage().arrayBuffers;
    const a = await peer(bytes);
    fullGc();
    const grown = process.memoryUsage().arrayBuffers - before;
    // Charged the claim (48 MiB, over the 1 MiB budget), it would have been closed at its header.
    expect(a.closing.calls).toEqual([]);
    expect(a.conn.midFrame).toBe(true);
    // What arrived (600 KiB), kept at most twice over, and the sessions' own buffers: far from the 48 MiB claimed.
    expect(grown).toBeLessThan(2 * SENT + 2 * MiB);

    // A second peer's 600 KiB does not fit beside the first's in the listener's one budget: it alone is closed.
    const b = await peer(claim());
    // Closed as its bytes go over, so at once: the bound is only a hang guard.
    await waitFor(() => b.closing.calls.length > 0, { what: 'the close of the connection over the budget', timeoutMs: 5_000 });
    const err = b.closing.calls[0];
    expect(err).toBeInstanceOf(FrameError);
    expect(err!.message).toMatch(/over the maxPendingFrameBytes budget of 1048576$/);
    expect([a.closing.calls, a.frames, b.frames]).toEqual([[], 0, 0]);
    // Kept alive to here, so that `before` and `grown` both count it.
    expect(bytes.length).toBe(4 + SENT);
  });
});
