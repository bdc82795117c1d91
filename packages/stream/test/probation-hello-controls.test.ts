import { cleanups, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { GOODBYE_ENTRY, GOODBYE_FLAG } from '../src/wire/goodbye.js';
import { HelloRole, encodeHello, receiveLimitsEntry } from '../src/wire/hello.js';
import { SERVER_PING_FLAG, SERVER_PINGS_ENTRY } from '../src/wire/server-pings.js';
import { HELLO_ACTION } from '../src/wire/protocol.js';
import { requestFrame, responseFrames } from './harness.js';
import { halfOpenConn, probationServer } from './probation-harness.js';

/*
 * A hello on probation that offers no credentials is answered with a refusal (`rpc_overloaded:
 * <why>`), not with the hello's terms: it agrees nothing, no server pings and no goodbye. So the
 * server sends it neither while it drains: a Skein client reads either from a server whose hello
 * did not agree it as a broken server's (it closes with a FrameError and loses the refusal's words).
 * Before, the server marked both from the hello's offer before it refused, and ended such a
 * connection with a goodbye once its drain found nothing more to read.
 */

const cleanup = cleanups();

describe('a hello refused on probation', () => {
  it('agrees no goodbye and no server pings: the refusal is the last frame the server sends before it ends', async () => {
    const s = await probationServer(cleanup);
    const { sock, closed, read } = halfOpenConn(s.port, cleanup);
    await waitFor(() => s.server.stats().connections === 2 || undefined, { what: 'the second connection let in on probation' });
    // Goodbyes and server pings offered, no credentials: refused, and the server drains and ends.
    sock.write(requestFrame(HELLO_ACTION, 0, encodeHello(HelloRole.Offer, [receiveLimitsEntry(1 << 20, 1 << 20), SERVER_PINGS_ENTRY, GOODBYE_ENTRY])));
    await within(closed, 10_000, 'the server to end the connection it sent away');
    const frames = responseFrames(new Uint8Array(read()));
    expect(frames.map((f) => f.flag)).toEqual([2]); // the refusal, an error string
    expect(new TextDecoder().decode(frames[0]!.body)).toMatch(/^rpc_overloaded:/);
    expect(frames.some((f) => f.flag === GOODBYE_FLAG || f.flag === SERVER_PING_FLAG)).toBe(false);
  });
});
