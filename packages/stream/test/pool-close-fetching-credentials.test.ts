import { describe, expect, it } from 'vitest';
import { ErrorCode, type Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { cleanups, muteServer, within } from '@skein/test-utils';
import { ClientStream, ConnPool } from '../src/index.js';

/*
 * A connect whose credentials function has not answered yet (a token service that hangs) is
 * given up at the abort too, as ClientStream.connect and TransportConnectOptions.signal say
 * ("wherever it is"): the connect rejects Cancelled, the connection it opened is closed, and a
 * pool's close does not wait on the credentials. The abort comes once the transport's connect
 * resolved (the real TCP transport, told of its connects), so only the credentials are left.
 */
const cleanup = cleanups();
const CONNECT_TIMEOUT_MS = 60_000;
const HANG_MS = 10_000;
const never = (): Promise<string> => new Promise(() => {});

/** Real TCP, and a promise of its first connect's success. */
function toldTcp(): { transport: Transport; connected: Promise<void> } {
  const tcp = tcpTransport(nodeRuntime);
  let told!: () => void;
  const connected = new Promise<void>((resolve) => (told = resolve));
  const transport: Transport = { ...tcp, connect: (address, spec, opts) => tcp.connect(address, spec, opts).then((conn) => (told(), conn)) };
  return { transport, connected };
}

describe('a connect waiting for its credentials', () => {
  it('ClientStream.connect rejects Cancelled at the abort and closes its socket', async () => {
    const mute = await muteServer();
    const { transport, connected } = toldTcp();
    const abort = new AbortController();
    const connecting = ClientStream.connect({ transport, address: mute.address, connectTimeoutMs: CONNECT_TIMEOUT_MS, credentials: never }, abort.signal).catch((e: unknown) => e);
    await within(connected, HANG_MS, 'the TCP connect');
    const why = new Error('given up');
    abort.abort(why);
    expect(await within(connecting, HANG_MS, 'the connect to fail')).toMatchObject({ code: ErrorCode.Cancelled, cause: why });
    await mute.allClosed();
  });

  it('ConnPool.close() ends at once and closes the socket', async () => {
    const mute = await muteServer();
    const { transport, connected } = toldTcp();
    const pool = new ConnPool({ transport, address: mute.address, connectBudgetMs: CONNECT_TIMEOUT_MS, stream: { connectTimeoutMs: CONNECT_TIMEOUT_MS, credentials: never } });
    cleanup.push(() => pool.destroy());
    const call = pool.call('x').catch((e: unknown) => e);
    await within(connected, HANG_MS, 'the TCP connect');
    await within(pool.close(), HANG_MS, 'the pool to close');
    expect(await call).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    await mute.allClosed();
  });
});
