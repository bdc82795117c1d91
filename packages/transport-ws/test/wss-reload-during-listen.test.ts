import net from 'node:net';
import { ErrorCode } from '@skein/core';
import { freePort, suiteCerts, testTls, tlsReloadDuringListenConformance, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { uwsTransport, wsTransport } from '../src/index.js';
import { spec } from './helpers.js';

// reloadTls and a listen under way at once, over real wss:// (the ws server over https).
tlsReloadDuringListenConformance({ name: 'ws', transport: (tls) => wsTransport({ tls }), spec });

/** How a plain TCP connect to 127.0.0.1:`port` ends: `connected`, or its error's code. */
function tcpConnect(port: number): Promise<string> {
  return within(
    new Promise<string>((resolve) => {
      const sock = net.connect({ host: '127.0.0.1', port });
      sock.once('connect', () => (sock.destroy(), resolve('connected')));
      sock.once('error', (err: NodeJS.ErrnoException) => resolve(String(err.code)));
    }),
    10_000,
    'the connect',
  );
}

describe('uws: a reload while a listen opens', () => {
  const certs = suiteCerts();
  const { serverTls } = testTls(certs);

  it('the listen is refused InvalidArgument and its server closed: uWS cannot change its certificate', async () => {
    // A port of our own: a refused listen gives no address to look at after.
    const port = await freePort();
    const t = uwsTransport({ tls: serverTls() });
    const listening = t.listen({ host: '127.0.0.1', port }, spec, (conn) => void conn.close());
    // Applied while the server loads and binds (no listener yet): the listen is given it after.
    await t.reloadTls(certs.reloaded);
    await expect(listening).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: 'reloadTls: the uws server cannot change its certificate while listening' });
    // Nothing left bound serving the certificate before the reload.
    expect(await tcpConnect(port)).toBe('ECONNREFUSED');
    // A later listen opens with the reloaded options.
    const l = await t.listen({ host: '127.0.0.1', port }, spec, (conn) => void conn.close());
    await l.close();
  });
});
