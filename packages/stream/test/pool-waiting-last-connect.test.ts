import { ErrorCode, silentLogger, type RpcError } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { cleanups, deferred, freePort, startTcpRelay, suiteCerts, testTls, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool } from '../src/index.js';
import { mtlsServer, transport } from './harness.js';
import { localServer, str } from './pool-harness.js';

/*
 * A call that waited out its timeoutMs for a connection that never came says why none came: the
 * last connect's error is its cause and is named in its message (gRPC's "last error"), not only in
 * the pool's log. Real sockets: a closed port (a real ECONNREFUSED), a listener that resets every
 * connection at once, and a real mTLS server closing on a client certificate it does not trust.
 * The connect budget is long, so only the call's own timeout ends it; what is asserted is the
 * error's contents, never how long anything took.
 */

const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);
const cleanup = cleanups();
const HANG_MS = 10_000;
const BUDGET_MS = 60_000;

/** A call's error, bounded by the test's own hang guard. */
const failure = (p: Promise<unknown>, what: string): Promise<RpcError> => within(p.then(() => expect.unreachable(`${what} succeeded`), (e: unknown) => e as RpcError), HANG_MS, what);

/**
 * Once the pool's first connect has failed (it backs off): a call made then waits in the outage,
 * its short timeout ending it after a connect failed however slow that connect was (a TLS
 * handshake on a loaded machine), so the outcome does not hang on speed.
 */
async function backingOff(pool: ConnPool): Promise<void> {
  // A pool connects at its first call: this one starts it, and ends as it may.
  const first = pool.call('first', undefined, { timeoutMs: 200 }).catch(() => undefined);
  await waitFor(() => pool.state === 'backoff' || undefined, { timeoutMs: HANG_MS, what: 'the pool backing off' });
  await first;
}

/** The Timeout of a call that waited for a connection, carrying `cause` and naming it. */
function expectNamedCause(err: RpcError, cause: RegExp): void {
  expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
  expect(err.cause).toBeInstanceOf(Error);
  const why = (err.cause as Error).message;
  expect(why).toMatch(cause);
  expect(err.message).toContain(`for a connection and was never sent; last connect: ${why}`);
}

describe('a call that waited out its timeoutMs for a connection', () => {
  it('to a closed port carries the ECONNREFUSED as its cause, and names it', async () => {
    const pool = new ConnPool({ transport, address: `127.0.0.1:${await freePort()}`, connectBudgetMs: BUDGET_MS, logger: silentLogger });
    cleanup.push(() => pool.destroy());
    await backingOff(pool);
    const err = await failure(pool.call('x', undefined, { timeoutMs: 200 }), 'the call to a closed port');
    expectNamedCause(err, /ECONNREFUSED/);
  });

  it('to a server that closes every connection at once carries that close as its cause, and names it', async () => {
    // A listener that resets each connection as it comes (a TCP relay refusing): the connect is
    // taken, then lost before the pool's first ping is answered.
    const s = await localServer({});
    cleanup.push(() => s.server.close());
    const relay = await startTcpRelay(s.address);
    cleanup.push(() => relay.close());
    relay.refuse();
    const pool = new ConnPool({ transport, address: relay.address, connectBudgetMs: BUDGET_MS, logger: silentLogger });
    cleanup.push(() => pool.destroy());
    await backingOff(pool);
    const err = await failure(pool.call('x', undefined, { timeoutMs: 300 }), 'the call to the refusing server');
    expectNamedCause(err, /./);
  });

  it('to an mTLS server that closes, with no alert, on a certificate it refuses carries that close as its cause, and names it', async () => {
    // TLS 1.3: the client's handshake is done before Node's server checks the certificate and
    // closes, silently, on one from a CA it does not trust. Not a refusal a pool can be sure of
    // (a proxy whose backend is down closes so too): its calls wait, and must still say why.
    const { port, ran } = await mtlsServer(mtls, cleanup);
    const pool = new ConnPool({ transport: tcpTransport(nodeRuntime, { tls: clientTls(certs.foreign) }), address: `127.0.0.1:${port}`, connectBudgetMs: BUDGET_MS, logger: silentLogger });
    cleanup.push(() => pool.destroy());
    await backingOff(pool);
    const err = await failure(pool.call(1, undefined, { timeoutMs: 300 }), 'the call with a foreign certificate');
    expectNamedCause(err, /may have refused this client's certificate/);
    expect(ran()).toBe(0);
  });

  it('through a FailoverPool, whose final error keeps the server pool’s named cause', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const pool = new FailoverPool({ transport, servers: [address], retries: 0, pool: { connectBudgetMs: BUDGET_MS, logger: silentLogger } });
    cleanup.push(() => pool.destroy());
    // Its server's pool is made by the first call: that one makes it back off.
    await failure(pool.call('x', undefined, { timeoutMs: 200 }), 'the first failover call');
    await waitFor(() => pool.stats()[0]?.state === 'backoff' || undefined, { timeoutMs: HANG_MS, what: "the server's pool backing off" });
    const err = await failure(pool.call('x', undefined, { timeoutMs: 200 }), 'the failover call');
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
    expect(err.message).toMatch(/was never sent; last connect: .*ECONNREFUSED/);
  });

  it('behind full windows, once its server is reached again, names no connect: the outage is over', async () => {
    const gate = deferred();
    const s = await localServer({ hold: () => gate.promise.then(() => str('held')) });
    cleanup.push(() => s.server.close());
    cleanup.push(() => gate.resolve());
    const relay = await startTcpRelay(s.address);
    cleanup.push(() => relay.close());
    relay.refuse();
    const pool = new ConnPool({ transport, address: relay.address, maxConnections: 1, stream: { window: 1 }, connectBudgetMs: BUDGET_MS, logger: silentLogger });
    cleanup.push(() => within(pool.close(), HANG_MS, 'pool close'));
    await backingOff(pool);
    // An outage first: its calls name why.
    expectNamedCause(await failure(pool.call('hold', undefined, { timeoutMs: 200 }), 'the call in the outage'), /./);
    relay.accept();
    // Up again, its one window taken by a held call: the next call waits for room, not a connect.
    const held = pool.call('hold');
    await waitFor(() => s.counts.hold === 1, { timeoutMs: HANG_MS, what: 'the held call to reach the server' });
    const err = await failure(pool.call('hold', undefined, { timeoutMs: 100 }), 'the call waiting for room');
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
    expect(err.cause).toBeUndefined();
    expect(err.message).toMatch(/was never sent$/);
    gate.resolve();
    await held;
  });
});

describe('a call that waited out the connect budget', () => {
  it('fails Unreachable with the last connect error as its cause', async () => {
    const pool = new ConnPool({ transport, address: `127.0.0.1:${await freePort()}`, connectBudgetMs: 200, logger: silentLogger });
    cleanup.push(() => pool.destroy());
    const err = await failure(pool.call('x', undefined, { timeoutMs: BUDGET_MS }), 'the call past the budget');
    expect(err).toMatchObject({ code: ErrorCode.Unreachable, retry: 'safe' });
    expect((err.cause as Error).message).toMatch(/ECONNREFUSED/);
    expect(err.message).toContain((err.cause as Error).message);
  });
});
