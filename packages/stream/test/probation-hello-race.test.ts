import { describe, expect, it } from 'vitest';
import { tcpTransport } from '@skein/transport-tcp';
import { nodeRuntime } from '@skein/runtime-node';
import { rawPeer } from './harness.js';
import { errorReplies, probationServer } from './probation-harness.js';
import { golden } from './golden.js';
import { ClientStream } from '../src/index.js';
import { waitFor, within, cleanups } from '@skein/test-utils';

/*
 * A connection on probation whose hello offers no credentials leaves at its hello
 * (connection.ts, leaveProbationAtHello). A call it sent before it could know (in a later
 * packet than its hello: a Skein client sends plain calls without waiting for the hello's
 * answer) must still be answered, unrun and safe to send elsewhere, not lost with the
 * connection (a lost call may have run, so one that may not be repeated could not go on).
 */

const cleanup = cleanups();

const start = () => probationServer(cleanup);

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
