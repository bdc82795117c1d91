import { describe, expect, it } from 'vitest';
import { tcpTransport } from '@skein/transport-tcp';
import { nodeRuntime } from '@skein/runtime-node';
import { waitFor, within, cleanups } from '@skein/test-utils';
import { errorReplies, halfOpenConn, probationServer } from './probation-harness.js';
import { golden } from './golden.js';
import { ClientStream } from '../src/index.js';

/*
 * A connection on probation (past the clients' cap, in a peer's place) that makes a call is
 * refused, unrun (bare Overloaded), and leaves. Its next call may already be on its way, in a
 * later packet than the first (a client sends without waiting for answers): it must be answered
 * the same way, unrun and safe to send elsewhere, not lost with the connection (a call lost on
 * the wire may have run, so one that may not be repeated could go nowhere).
 */

const cleanup = cleanups();

const start = () => probationServer(cleanup);

/** The golden numeric call (action 7) with seq `seq`. */
function callWithSeq(seq: number): Buffer {
  const b = Buffer.from(golden.numericActionRequest);
  b.writeBigUInt64LE(BigInt(seq), 8);
  return b;
}

describe('a connection on probation that makes calls', () => {
  it('answers a second call sent in a later packet, after the first was refused, unrun (Overloaded) rather than losing it', async () => {
    const s = await start();
    // Half-open allowed: it may still send after the server ended its side, as any call already
    // on its way when the server's end was sent does.
    const { sock, closed, read } = halfOpenConn(s.port, cleanup);
    await waitFor(() => s.server.stats().connections === 2 || undefined, { what: 'the second connection let in on probation' });
    sock.write(callWithSeq(2));
    await waitFor(() => errorReplies(read()).has(2) || undefined, { what: 'the first call refused' });
    sock.write(callWithSeq(3));
    await within(closed, 10_000, 'the connection on probation ended');
    const replies = errorReplies(read());
    expect(replies.get(2)).toBe('rpc_overloaded');
    expect(replies.get(3)).toBe('rpc_overloaded');
    expect(s.kinds).toEqual(['client']); // only the first client's call ran
  });

  it('a Skein client that sends no hello (small limits) gets every call it made refused unrun, none lost', async () => {
    const s = await start();
    // Limits this small send no hello: nothing tells the server what it is but its calls.
    const stream = await ClientStream.connect({ transport: tcpTransport(nodeRuntime), address: `127.0.0.1:${s.port}`, keepaliveMs: 0, limits: { maxMessage: 512, maxBlob: 512 } });
    cleanup.push(() => stream.destroy());
    const outcomes = await Promise.all(
      Array.from({ length: 4 }, () =>
        stream.call(1).then(
          () => 'ran',
          (e: { codeName?: string; retry?: string }) => `${e.codeName}/${e.retry}`,
        ),
      ),
    );
    expect(outcomes).toEqual(Array(4).fill('Overloaded/safe'));
    expect(s.kinds).toEqual(['client']);
  });
});
