import { ErrorCode } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { tcpTransport } from '@skein/transport-tcp';
import { nodeRuntime } from '@skein/runtime-node';
import { cleanups, deferred, waitFor, within } from '@skein/test-utils';
import { halfOpenConn, probationServer } from './probation-harness.js';
import { requestFrame } from './harness.js';
import { ClientStream } from '../src/index.js';
import { HELLO_ACTION } from '../src/wire/protocol.js';
import { HelloRole, encodeHello } from '../src/wire/hello.js';
import { AUTH_ACTION, AUTH_ENTRY } from '../src/wire/auth.js';

/*
 * Peers told by a token on one port (`authenticate`, `peers.admit` by principal: what
 * docs/protocol.md advises for peers and anonymous clients on one port): a client past the
 * clients' cap waits on probation, and is sent away at its hello (no credentials) or once its
 * credentials show it is no peer. That is a refusal at the clients' cap, as one by its
 * certificate at the hello is (peer-certificate-cap.test.ts): counted in `stats().refused` and
 * said on the cap's warn line, so an operator sees clients turned away.
 */

const cleanup = cleanups();
const t = tcpTransport(nodeRuntime);
const capLines = (lines: { level: string; obj: Record<string, unknown> }[]) => lines.filter((l) => l.level === 'warn' && l.obj.cap === 'clients.maxConnections');

describe('a client sent away from probation on a server that authenticates', () => {
  it('at its hello (no credentials): counted as refused at the clients\' cap, with the cap\'s warn line', async () => {
    const s = await probationServer(cleanup);
    const stream = await ClientStream.connect({ transport: t, address: s.address, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    await within(stream.closed(), 10_000, 'the stream closed');
    expect(s.server.stats()).toMatchObject({ refused: 1 });
    expect(capLines(s.logger.lines)).toHaveLength(1);
  });

  it('by its credentials (not a peer\'s): counted as refused at the clients\' cap, with the cap\'s warn line', async () => {
    const s = await probationServer(cleanup);
    const err = await ClientStream.connect({ transport: t, address: s.address, keepaliveMs: 0, credentials: 'someone' }).then(
      (stream) => (stream.destroy(), undefined),
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: ErrorCode.Overloaded });
    expect(s.server.stats()).toMatchObject({ refused: 1 });
    expect(capLines(s.logger.lines)).toHaveLength(1);
  });

  it('a peer presenting its token is let in and not counted', async () => {
    const s = await probationServer(cleanup);
    const stream = await ClientStream.connect({ transport: t, address: s.address, keepaliveMs: 0, credentials: 'peer-1' });
    cleanup.push(() => stream.destroy());
    await stream.call(1);
    expect(s.kinds).toEqual(['client', 'peer']);
    expect(s.server.stats()).toMatchObject({ refused: 0, peers: 1 });
    expect(capLines(s.logger.lines)).toHaveLength(0);
  });

  it('sent away at a second hello while its credentials were judged: counted once, not again when they are', async () => {
    const gate = deferred<void>();
    const s = await probationServer(cleanup, { authenticate: async ({ text }) => (await gate.promise, { principal: text }) });
    const c = halfOpenConn(s.port, cleanup);
    c.sock.write(requestFrame(HELLO_ACTION, 0, encodeHello(HelloRole.Offer, [AUTH_ENTRY])));
    c.sock.write(requestFrame(AUTH_ACTION, 1, new TextEncoder().encode('someone')));
    c.sock.write(requestFrame(HELLO_ACTION, 0, encodeHello(HelloRole.Offer, [])));
    await waitFor(() => s.server.stats().refused >= 1, { what: 'the refusal at the second hello' });
    // The credentials are judged only now, after the connection was sent away.
    gate.resolve();
    await c.closed;
    expect(s.server.stats()).toMatchObject({ refused: 1 });
    expect(capLines(s.logger.lines)).toHaveLength(1);
  });
});
