import { afterEach, describe, expect, it } from 'vitest';
import { tcpTransport } from '@skein/transport-tcp';
import { nodeRuntime } from '@skein/runtime-node';
import { kindRecordingServer, rawPeer } from './harness.js';
import { golden } from './golden.js';
import { ClientStream } from '../src/index.js';
import { waitFor, within } from '@skein/test-utils';

/*
 * A connection on probation whose hello offers no credentials leaves at its hello
 * (connection.ts, leaveProbationAtHello). A call it sent before it could know (in a later
 * packet than its hello: a Skein client sends plain calls without waiting for the hello's
 * answer) must still be answered, unrun and safe to send elsewhere, not lost with the
 * connection (a lost call may have run, so one that may not be repeated could not go on).
 */

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const admit = (c: { principal?: unknown }): boolean => c.principal === 'peer-1';

async function start() {
  const { server, logger } = kindRecordingServer({ authenticate: ({ text }) => ({ principal: text }), requireAuth: false, peers: { admit, maxConnections: 1 } });
  const t = tcpTransport(nodeRuntime);
  const { port } = (await server.listen(t, '127.0.0.1:0')) as { port: number };
  cleanup.push(() => server.close());
  const address = `127.0.0.1:${port}`;
  // The clients' one place, taken.
  const first = await ClientStream.connect({ transport: t, address, keepaliveMs: 0 });
  cleanup.push(() => first.destroy());
  await first.call(1);
  return { server, logger, address };
}

/** The error-string replies (flag 2) in `b`, by seq: the code each carries (a response header is 20 bytes: msg_len at 4, seq at 8, the blob's or error string's length at 16). */
function errorReplies(b: Buffer): Map<number, string> {
  const out = new Map<number, string>();
  for (let at = 0; at + 20 <= b.length; ) {
    const size = b.readUInt32LE(at + 4) + b.readUInt32LE(at + 16);
    if (b[at + 3] === 2) out.set(Number(b.readBigUInt64LE(at + 8)), b.subarray(at + 20, at + 20 + size).toString('latin1'));
    at += 20 + size;
  }
  return out;
}

describe('a connection on probation that leaves at its hello', () => {
  it('answers a call that came with its hello, unrun (Overloaded)', async () => {
    const s = await start();
    const raw = rawPeer(s.address, cleanup);
    raw.send(Buffer.concat([golden.helloRequest, golden.numericActionRequest]));
    const got = await within(raw.closed, 10_000, 'the connection on probation ended');
    expect(errorReplies(got).get(2)).toBe('rpc_overloaded');
  });

  it('answers a call sent after its hello, in a later packet, unrun (Overloaded) rather than dropping it', async () => {
    const s = await start();
    const raw = rawPeer(s.address, cleanup);
    raw.send(golden.helloRequest);
    await waitFor(() => raw.receivedBytes() >= golden.helloAnswer.length, { what: "the hello's answer" });
    raw.send(golden.numericActionRequest);
    const got = await within(raw.closed, 10_000, 'the connection on probation ended');
    expect(errorReplies(got).get(2)).toBe('rpc_overloaded');
  });
});
