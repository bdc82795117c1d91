import { describe, expect, it } from 'vitest';
import { silentLogger, type ReloadableTransport, type RpcError, type TlsOptions, type Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { ManualClock, cleanups, deferred, suiteCerts, testTls, waitFor, within } from '@skein/test-utils';
import { ConnPool, RpcServer, createRouter, type PoolState } from '../src/index.js';

// A pool whose connect its transport refused (a TLS key that is not its certificate's:
// InvalidArgument, which no retry heals) hears of the transport's reloadTls (core's
// `Transport.tlsGeneration`): a call made once the reload resolved waits for a connect with the
// new pair, made at once, not failed with the old refusal until a backoff delay passes. Real TLS
// over real sockets, tcp and ws; a manual clock the test never moves past one backoff delay, so
// no backoff attempt comes to the rescue.

const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);
const cleanup = cleanups();

const HANG_MS = 10_000;
/** The client's certificate with the server's key: well-formed, but no pair. */
const mismatched = (): TlsOptions => clientTls({ cert: certs.client.cert, key: certs.server.key });

const TRANSPORTS: [string, (tls: TlsOptions) => ReloadableTransport][] = [
  ['tcp', (tls) => tcpTransport(nodeRuntime, { tls })],
  ['ws', (tls) => wsTransport({ tls })],
];

describe.each(TRANSPORTS)('a pool refused by its own TLS options, mended by reloadTls (%s)', (_name, make) => {
  /** An mTLS server answering action 1; counts what it ran. */
  async function serve(): Promise<{ address: string; ran: () => number }> {
    let ran = 0;
    const server = new RpcServer({ dispatch: createRouter({ 1: () => void ran++ }) });
    const bound = (await server.listen(make(mtls()), '127.0.0.1:0')) as { port: number };
    cleanup.push(() => server.close());
    return { address: `127.0.0.1:${bound.port}`, ran: () => ran };
  }

  /**
   * A client transport with the mismatched pair, counting its connects; `hold` delays the outcome
   * of the first one, which `refused` tells of as it comes (its options read, its pair refused).
   */
  function client(hold?: Promise<void>): { inner: ReloadableTransport; transport: Transport; connects: () => number; refused: Promise<unknown> } {
    const inner = make(mismatched());
    let count = 0;
    const refused = deferred<unknown>();
    // Spread, as a wrapper is usually made: the pool reads `tlsGeneration` through the copy.
    const transport: Transport = {
      ...inner,
      connect: (address, spec, options) => {
        const outcome = inner.connect(address, spec, options);
        if (count++ > 0 || hold === undefined) return outcome;
        outcome.then(refused.resolve, refused.resolve);
        return hold.then(() => outcome);
      },
    };
    return { inner, transport, connects: () => count, refused: refused.promise };
  }

  it('a call made once reloadTls resolves, in backoff and past the connect budget, goes out on a connect with the new pair made at once', async () => {
    const s = await serve();
    const c = client();
    const clock = new ManualClock();
    const pool = new ConnPool({ transport: c.transport, address: s.address, clock, connectBudgetMs: 1000, logger: silentLogger });
    cleanup.push(() => pool.destroy());
    const first = (await within(pool.call(1).catch((e: unknown) => e), HANG_MS, 'the first call')) as RpcError;
    expect(first).toMatchObject({ codeName: 'InvalidArgument', message: expect.stringMatching(/^tls: cannot use the certificate, key or CA given: /) });
    // Past the budget, an attempt refused meanwhile: the outage outlasted what calls wait for.
    clock.advance(2000);
    await waitFor(() => c.connects() === 2 && pool.state === 'backoff', { what: 'another attempt refused' });
    await c.inner.reloadTls(clientTls(certs.client));
    // The clock stays: no backoff delay passes. The call itself has the pool connect.
    await within(pool.call(1), HANG_MS, 'the call after the reload');
    expect(c.connects()).toBe(3);
    expect(s.ran()).toBe(1);
    expect(pool.state).toBe('ready');
  });

  it('a call whose reloadTls-mended connect has onStateChange close the pool fails Closed, not left waiting in the closed pool', async () => {
    const s = await serve();
    const c = client();
    let closeOnConnect = false;
    const pool: ConnPool = new ConnPool({
      transport: c.transport,
      address: s.address,
      clock: new ManualClock(),
      logger: silentLogger,
      onStateChange: (state: PoolState) => {
        if (closeOnConnect && state === 'connecting') void pool.close();
      },
    });
    cleanup.push(() => pool.destroy());
    await within(pool.call(1).catch(() => {}), HANG_MS, 'the first call');
    await waitFor(() => pool.state === 'backoff', { what: 'the pool backing off' });
    await c.inner.reloadTls(clientTls(certs.client));
    closeOnConnect = true;
    // The call has the pool connect (the refusal is outdated); the state change closes the pool.
    const err = (await within(pool.call(1).catch((e: unknown) => e), HANG_MS, 'the call made as the pool closes')) as RpcError;
    expect(err).toMatchObject({ codeName: 'Closed' });
    expect(pool.state).toBe('closed');
    expect(s.ran()).toBe(0);
  });

  it('a connect under way when the reload applied, refused for the old pair after it, is made again at once: the calls waiting are sent, not failed', async () => {
    const s = await serve();
    const held = deferred<void>();
    cleanup.push(() => held.resolve());
    const c = client(held.promise);
    const clock = new ManualClock();
    const pool = new ConnPool({ transport: c.transport, address: s.address, clock, logger: silentLogger });
    cleanup.push(() => pool.destroy());
    // The first connect is made with the mismatched pair; its refusal is held back.
    const before = pool.call(1);
    expect(await within(c.refused, HANG_MS, 'the first connect refused')).toMatchObject({ codeName: 'InvalidArgument' });
    await c.inner.reloadTls(clientTls(certs.client));
    const after = pool.call(1);
    held.resolve();
    await within(Promise.all([before, after]), HANG_MS, 'both calls');
    expect(c.connects()).toBe(2);
    expect(s.ran()).toBe(2);
  });
});
