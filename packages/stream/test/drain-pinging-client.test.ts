import { ManualClock, cleanups, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { PING_ACTION } from '../src/wire/protocol.js';
import { receiveLimitsEntry } from '../src/wire/hello.js';
import { helloOffer, rawPeer, requestFrame, responseFrames, startServer, u32 } from './harness.js';

// A draining server ends a connection that carried nothing for a tick, once its calls are
// answered. A client's keepalive pings are no calls (a peer that only pings is idle): a client
// that pings more often than the server ticks must not hold the server's close until
// closeWaitMs (90 s by default), as ClientStreams with a keepaliveMs under the server's tickMs
// did, behind a FailoverPool too, whenever the connection had a hello.

const cleanup = cleanups();
const TICK_MS = 100;

describe('a graceful close and a client that pings while idle', () => {
  it('ends the idle connection at the next tick, however often the client pings', { timeout: 20_000 }, async () => {
    const clock = new ManualClock();
    // Far longer than the test runs: a close that waited it out would fail the bound below.
    const s = await startServer({ echo: (req) => req.msg }, { clock, tickMs: TICK_MS, closeWaitMs: 60_000 });
    const peer = rawPeer(s.address, cleanup);
    let ended = false;
    void peer.closed.then(() => (ended = true));
    // A greeted connection that made a call: the drain waits for the client to go quiet.
    peer.send(helloOffer([receiveLimitsEntry(1 << 20, 1 << 20)]));
    peer.send(requestFrame('echo', 1, u32(7)));
    const answered = (seq: number) => responseFrames(peer.received()).some((f) => f.seq === seq);
    await waitFor(() => answered(1), { what: 'the call answered' });
    const closing = s.server.close();
    await waitFor(() => s.server.stats().listeners === 0, { what: 'the server to drain its connections' });
    // Ten ticks, a ping answered before each: the client sends nothing else.
    for (let i = 0; i < 10 && !ended; i++) {
      peer.send(requestFrame(PING_ACTION, 100 + i));
      await waitFor(() => ended || answered(100 + i), { what: `pong ${i}` });
      clock.advance(TICK_MS);
    }
    await waitFor(() => ended, { what: 'the server to end the connection', timeoutMs: 5_000 });
    await within(closing, 15_000, 'server close');
  });
});
