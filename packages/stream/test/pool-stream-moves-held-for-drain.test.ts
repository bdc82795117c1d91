import { EMPTY_BYTES } from '@skein/core';
import { cleanups, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type ActionHandler } from '../src/index.js';
import { errorStringFrame } from './golden.js';
import { writeCountingTransport, deafServer, readU32, responseFrame, startServer, u32 } from './harness.js';

/*
 * A client stream's write held for its connection's full send buffer waits for that buffer's
 * drain, whatever credit comes (client-stream-credit-full-buffer.test.ts). A pool may move the
 * stream meanwhile: refused unrun, it opens on another server's connection, and its write must
 * then wait for that one (its credit, or its drain), not for the drain of the connection it
 * left, which here never comes: that server reads nothing again, ever.
 */

const cleanup = cleanups();

/** The opening request's blob: more than the kernel's buffers take, so the connection to the deaf server stays full. */
const OPENING = 32 * 1024 * 1024;

/** Reads the client's numbers to their end; answers with their sum. */
const sum: ActionHandler = async (req) => {
  let total = 0;
  for await (const item of req.stream!) total += readU32(item.msg);
  return u32(total);
};

describe('a stream whose write waits for a full send buffer to drain, moved to another server', () => {
  it("writes there and completes, though the connection it left never drains", async () => {
    const deaf = await deafServer(cleanup);
    const b = await startServer({ sum });
    cleanup.push(() => b.server.close());
    const counting = writeCountingTransport();
    const pool = new FailoverPool({ transport: counting.transport, servers: [deaf.address, b.address], strategy: 'leader', pool: { stream: { keepaliveMs: 0 } } });
    cleanup.push(() => pool.close());
    // To the leader, which answers the hello (streams agreed, a window of 1 MiB) and reads nothing more.
    const s = pool.openStream('sum', EMPTY_BYTES, { blob: new Uint8Array(OPENING) });
    cleanup.push(() => s.cancel());
    const sock = await deaf.socket;
    cleanup.push(() => sock.destroy());
    // The pool's first ping (seq 1, after the hello) answered: the connection is the pool's to use.
    sock.write(responseFrame(0, 1, EMPTY_BYTES));
    await waitFor(() => s.seq !== 0 && counting.conns[0]!.congested, { what: 'the stream open on the deaf server, its connection full' });
    let wrote = false;
    const write = s.write(u32(7)).then(() => (wrote = true));
    write.catch(() => {});
    // Credit it has (the hello's window), so it waits for the drain alone.
    await new Promise((r) => setImmediate(r));
    expect(wrote).toBe(false);
    // Refused unrun (a bare Closed, as a draining server's): the pool moves it to b.
    sock.write(errorStringFrame(s.seq, 'rpc_closed'));
    await waitFor(() => wrote, { what: 'the held write sent on the server it moved to' });
    await write;
    s.end();
    expect(readU32((await s.result).msg)).toBe(7);
    // The deaf server's connection never drained: still full.
    expect(counting.conns[0]!.congested).toBe(true);
  });
});
