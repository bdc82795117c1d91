import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { cleanups, deferred, muteServer, suiteCerts, testTls, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, ConnPool, FailoverPool, type ServerHealthEvent, type ServerRequest } from '../src/index.js';
import { startServer, transport, u32 } from './harness.js';

/*
 * A signal made by `AbortSignal.timeout(ms)` (the web platform's timeout, which fetch() reports as
 * a TimeoutError, not an AbortError) fails what it was given with Timeout, not Cancelled: its
 * reason as cause, `retry: 'never'` and a cancel sent to the server as for a cancel, and words
 * that name the signal, not the call's own `timeoutMs`. Real servers over TCP. The signals time
 * out in a few ms; what they are given never ends otherwise within the bounds (servers that
 * never answer, connects that hang with a minute's timeout), so no clock decides.
 */
const cleanup = cleanups();
const certs = suiteCerts();
const { clientTls } = testTls(certs);

const SIGNAL_MS = 20;
/** Past every wait below: a connect or a call that outlives its signal fails the test, not ends it. */
const LONG_MS = 60_000;
const HANG_MS = 10_000;

const isTimeoutError = (e: unknown): boolean => e instanceof DOMException && e.name === 'TimeoutError';

/** What a signal's timeout must fail with: Timeout, never retried, its reason as cause, its words the signal's. */
function expectSignalTimeout(err: unknown, subject: string): void {
  expect(err).toBeInstanceOf(RpcError);
  const e = err as RpcError;
  expect({ code: e.codeName, retry: e.retry }).toEqual({ code: 'Timeout', retry: 'never' });
  expect(isTimeoutError(e.cause)).toBe(true);
  expect(e.message).toMatch(new RegExp(`^${subject} timed out \\(its signal: TimeoutError: `));
}

/** A server whose `hold` handler never answers, and tells what its signal aborted with; `feed` streams one item, then holds. */
async function holdingServer() {
  const aborted = deferred<unknown>();
  const ran = { count: 0 };
  const hold = (req: ServerRequest) => {
    ran.count++;
    req.signal.addEventListener('abort', () => aborted.resolve(req.signal.reason));
    return new Promise<never>(() => {});
  };
  const feed = async (req: ServerRequest) => {
    await req.stream!.write(u32(1));
    return hold(req);
  };
  const s = await startServer({ hold, feed }, { closeWaitMs: 0, logger: silentLogger });
  cleanup.push(() => s.server.close());
  const client = await s.connect({ timeoutMs: LONG_MS, logger: silentLogger });
  cleanup.push(() => client.destroy());
  await client.ping(); // the hello is answered: a call with a signal goes with a head, and can be cancelled there
  return { client, ran, aborted, address: s.address };
}

describe('a ClientStream call whose signal times out', () => {
  it('on the wire: fails Timeout (its signal), and the server is sent a cancel, as for an abort', async () => {
    const { client, aborted } = await holdingServer();
    const err = await client.call('hold', undefined, { signal: AbortSignal.timeout(SIGNAL_MS) }).catch((e: unknown) => e);
    expectSignalTimeout(err, 'call');
    // The cancel frame reached the handler: its signal reads the client's cancel.
    expect(await within(aborted.promise, HANG_MS, "the handler's signal")).toMatchObject({ code: ErrorCode.Cancelled });
  });

  it('aborted already: fails Timeout at once, unsent', async () => {
    const { client, ran } = await holdingServer();
    const signal = AbortSignal.timeout(SIGNAL_MS);
    await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    expectSignalTimeout(await client.call('hold', undefined, { signal }).catch((e: unknown) => e), 'call');
    await client.ping(); // anything sent before the ping was read (and its handler started) by its answer
    expect(ran.count).toBe(0);
  });
});

describe('a ClientStream stream whose signal times out', () => {
  it('fails its reading and its result with Timeout (its signal), and the server is sent a cancel', async () => {
    const { client, aborted } = await holdingServer();
    const s = client.openStream('feed', undefined, { signal: AbortSignal.timeout(SIGNAL_MS) });
    const reading = (async () => {
      for await (const _ of s);
    })().catch((e: unknown) => e);
    expectSignalTimeout(await reading, 'stream');
    expectSignalTimeout(await s.result.catch((e: unknown) => e), 'stream');
    expect(await within(aborted.promise, HANG_MS, "the handler's signal")).toMatchObject({ code: ErrorCode.Cancelled });
  });
});

describe('a pool call waiting for a connection (a TLS handshake the server never answers) whose signal times out', () => {
  it('ConnPool: fails Timeout (its signal) and leaves the queue', async () => {
    const mute = await muteServer();
    const pool = new ConnPool({ transport: tcpTransport(nodeRuntime, { tls: clientTls() }), address: mute.address, connectBudgetMs: LONG_MS, stream: { connectTimeoutMs: LONG_MS, timeoutMs: LONG_MS }, logger: silentLogger });
    cleanup.push(() => pool.destroy());
    const call = pool.call('x', undefined, { signal: AbortSignal.timeout(SIGNAL_MS) }).catch((e: unknown) => e);
    expectSignalTimeout(await within(call, HANG_MS, 'the waiting call'), 'call');
    expect(pool.queued).toBe(0);
  });

  it('FailoverPool: fails Timeout (its signal), not retried elsewhere', async () => {
    const mute = await muteServer();
    const pool = new FailoverPool({
      transport: tcpTransport(nodeRuntime, { tls: clientTls() }),
      servers: [mute.address],
      logger: silentLogger,
      pool: { connectBudgetMs: LONG_MS, stream: { connectTimeoutMs: LONG_MS, timeoutMs: LONG_MS }, logger: silentLogger },
    });
    cleanup.push(() => pool.destroy());
    const call = pool.call('x', undefined, { signal: AbortSignal.timeout(SIGNAL_MS), idempotent: true }).catch((e: unknown) => e);
    expectSignalTimeout(await within(call, HANG_MS, 'the waiting call'), 'call');
  });
});

describe('ClientStream.connect whose signal times out (a TLS handshake the server never answers)', () => {
  it("fails Timeout (its signal), not its own timeout's Unreachable, and lets the socket go", async () => {
    const mute = await muteServer();
    const connecting = ClientStream.connect({ transport: tcpTransport(nodeRuntime, { tls: clientTls() }), address: mute.address, connectTimeoutMs: LONG_MS, logger: silentLogger }, AbortSignal.timeout(SIGNAL_MS));
    const err = await within(connecting.catch((e: unknown) => e), HANG_MS, 'the connect');
    expectSignalTimeout(err, `connect to ${mute.address}`);
    await mute.allClosed();
  });
});

describe("a FailoverPool's circuit breaker", () => {
  it("does not count calls its server had whose signal timed out, as it counts no cancel", async () => {
    const { address, ran } = await holdingServer();
    const events: string[] = [];
    const pool = new FailoverPool({
      transport,
      servers: [address],
      retries: 0,
      circuitBreaker: { minCalls: 2, failureRatio: 0.5 },
      onServerHealth: (e: ServerHealthEvent) => events.push(e.kind),
      logger: silentLogger,
      pool: { stream: { timeoutMs: LONG_MS }, logger: silentLogger },
    });
    cleanup.push(() => pool.destroy());
    const abort = new AbortController();
    const calls = [0, 1].map(() => pool.call('hold', undefined, { signal: abort.signal }).catch((e: unknown) => e));
    await waitFor(() => ran.count === 2, { what: 'both calls to reach the server' });
    // What AbortSignal.timeout(ms) aborts with, aborted once the server has both calls.
    abort.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    for (const err of await Promise.all(calls)) expectSignalTimeout(err, 'call');
    expect(events).toEqual([]);
  });
});
