import { describe, expect, it } from 'vitest';
import { silentLogger, type RpcError } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { ManualClock, cleanups, suiteCerts, testTls, within } from '@skein/test-utils';
import { ConnPool } from '../src/index.js';
import { mtlsServer } from './harness.js';

// Under TLS 1.3 a client's handshake completes before the mTLS server has checked its
// certificate, so the server's refusal (alert 116, certificate required) arrives after the
// connect resolved and fails the pool's first ping: an IO whose cause is the Unauthenticated
// refusal. The pool must read it as the refusal it is, as it reads the same refusal under TLS 1.2
// (inside the connect): calls fail with it at once, saying to check tls.cert and tls.key, rather
// than waiting out their timeoutMs for a connection that backoff after backoff is refused again
// (a bare "waited ... for a connection and was never sent"). Real TLS over real sockets; a manual
// clock the test never moves, so no timeout or budget ends a call: only the refusal can.

const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);
const cleanup = cleanups();
const HANG_MS = 10_000;

describe('a pool whose client certificate an mTLS server refuses after a TLS 1.3 handshake', () => {
  it('fails its calls at once with the Unauthenticated refusal, and connects again once reloadTls gives a certificate', async () => {
    const { port, ran } = await mtlsServer(mtls, cleanup);
    const transport = tcpTransport(nodeRuntime, { tls: clientTls() }); // no client certificate
    const pool = new ConnPool({ transport, address: `127.0.0.1:${port}`, clock: new ManualClock(), logger: silentLogger });
    cleanup.push(() => pool.destroy());

    const err = (await within(pool.call(1).catch((e: unknown) => e), HANG_MS, 'the refused call')) as RpcError;
    expect(err).toMatchObject({ codeName: 'Unauthenticated', message: expect.stringMatching(/refused the TLS connection.*check tls\.cert, tls\.key/) });
    // The refusal sticks until something may mend it: a later call fails with it too, unsent.
    expect(await within(pool.call(1).catch((e: unknown) => e), HANG_MS, 'a second call')).toMatchObject({ codeName: 'Unauthenticated' });
    expect(ran()).toBe(0);

    await transport.reloadTls(clientTls(certs.client));
    await within(pool.call(1), HANG_MS, 'the call after the reload');
    expect(ran()).toBe(1);
  });
});
