import { ErrorCode, type Runtime } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { suiteCerts, testTls, tlsReloadDuringListenConformance } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { tcpTransport } from '../src/index.js';
import { spec } from './spec.js';

// reloadTls and a listen under way at once, over real TLS sockets (Node's runtime).
tlsReloadDuringListenConformance({ name: 'tcp', transport: (tls) => tcpTransport(nodeRuntime, { tls }), spec });

/** Node's runtime as one whose listeners cannot change their certificate (reloadTls is optional in the contract). */
const fixedCertRuntime: Runtime = {
  ...nodeRuntime,
  async listen(address, accept, options) {
    const l = await nodeRuntime.listen(address, accept, options);
    return { address: l.address, close: () => l.close() };
  },
};

describe('tcp: a reload while a listen opens, on a runtime whose listeners keep their certificate', () => {
  const certs = suiteCerts();
  const { serverTls } = testTls(certs);

  it('the listen is refused InvalidArgument and its listener closed, rather than left serving the old certificate', async () => {
    const t = tcpTransport(fixedCertRuntime, { tls: serverTls() });
    const listening = t.listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => void conn.close());
    // No listener yet: the reload applies, for later connects and listens.
    await t.reloadTls!(certs.reloaded);
    await expect(listening).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/cannot change a TLS listener's certificate/) });
    // A later listen opens with the reloaded options, and reloads are refused while it is open.
    const l = await t.listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => void conn.close());
    await expect(t.reloadTls!({ ca: certs.ca })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    await l.close();
    // The refused listener is no longer the transport's: with none open, a reload applies.
    await t.reloadTls!({ ca: certs.ca });
  });
});
