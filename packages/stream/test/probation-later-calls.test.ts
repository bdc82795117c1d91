import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { tcpTransport } from '@skein/transport-tcp';
import { nodeRuntime } from '@skein/runtime-node';
import { waitFor, within } from '@skein/test-utils';
import { kindRecordingServer } from './harness.js';
import { golden } from './golden.js';
import { ClientStream } from '../src/index.js';

/*
 * A connection on probation (past the clients' cap, in a peer's place) that makes a call is
 * refused, unrun (bare Overloaded), and leaves. Its next call may already be on its way, in a
 * later packet than the first (a client sends without waiting for answers): it must be answered
 * the same way, unrun and safe to send elsewhere, not lost with the connection (a call lost on
 * the wire may have run, so one that may not be repeated could go nowhere).
 */

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function start() {
  const admit = (c: { principal?: unknown }): boolean => c.principal === 'peer-1';
  const { server, kinds } = kindRecordingServer({ authenticate: ({ text }) => ({ principal: text }), requireAuth: false, peers: { admit, maxConnections: 1 } });
  const t = tcpTransport(nodeRuntime);
  const { port } = (await server.listen(t, '127.0.0.1:0')) as { port: number };
  cleanup.push(() => server.close());
  // The clients' one place, taken: the next connection waits on probation (credentials may come).
  const first = await ClientStream.connect({ transport: t, address: `127.0.0.1:${port}`, keepaliveMs: 0 });
  cleanup.push(() => first.destroy());
  await first.call(1);
  return { server, port, kinds };
}

/** The golden numeric call (action 7) with seq `seq`. */
function callWithSeq(seq: number): Buffer {
  const b = Buffer.from(golden.numericActionRequest);
  b.writeBigUInt64LE(BigInt(seq), 8);
  return b;
}

/** The error-string replies (flag 2) in `b`, by seq. */
function errorReplies(b: Buffer): Map<number, string> {
  const out = new Map<number, string>();
  for (let at = 0; at + 20 <= b.length; ) {
    const size = b.readUInt32LE(at + 4) + b.readUInt32LE(at + 16);
    if (b[at + 3] === 2) out.set(Number(b.readBigUInt64LE(at + 8)), b.subarray(at + 20, at + 20 + size).toString('latin1'));
    at += 20 + size;
  }
  return out;
}

describe('a connection on probation that makes calls', () => {
  it('answers a second call sent in a later packet, after the first was refused, unrun (Overloaded) rather than losing it', async () => {
    const s = await start();
    // Half-open allowed: it may still send after the server ended its side, as any call already
    // on its way when the server's end was sent does.
    const sock = net.connect({ port: s.port, host: '127.0.0.1', allowHalfOpen: true });
    cleanup.push(() => sock.destroy());
    sock.on('error', () => {});
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', () => sock.end());
    const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
    await waitFor(() => s.server.stats().connections === 2 || undefined, { what: 'the second connection let in on probation' });
    sock.write(callWithSeq(2));
    await waitFor(() => errorReplies(Buffer.concat(chunks)).has(2) || undefined, { what: 'the first call refused' });
    sock.write(callWithSeq(3));
    await within(closed, 10_000, 'the connection on probation ended');
    const replies = errorReplies(Buffer.concat(chunks));
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
