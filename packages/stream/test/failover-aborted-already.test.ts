import { ErrorCode, type RpcError } from '@skein/core';
import { cleanups, freePort, freePorts, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, type CallOptions, type FailoverPoolOptions, type StreamCall } from '../src/index.js';
import { transport } from './harness.js';

// A FailoverPool call or stream whose own signal aborted before it was made fails as a
// ClientStream or ConnPool fails it (Cancelled; Timeout for a timeout reason; `retry: 'never'`),
// whatever the pool could place it on: with no server at all, every breaker open, or its named
// server in an outage it would fail fast in (Unreachable, `retry: 'safe'`, before). What decides
// the tests is the error; servers nothing listens on make the outage, refused at once.

const cleanup = cleanups();

/** An address nothing listens on: a connect there is refused (Unreachable, `retry: 'safe'`). */
const dead = async (): Promise<string> => `127.0.0.1:${await freePort()}`;

function poolOf(servers: string[], opts: Partial<FailoverPoolOptions> = {}): FailoverPool {
  const pool = new FailoverPool({ transport, servers, ...opts });
  cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
  return pool;
}

const failure = (p: Promise<unknown>): Promise<RpcError> => p.then(() => expect.unreachable('the call succeeded'), (e: unknown) => e as RpcError);
const streamFailure = (s: StreamCall): Promise<RpcError> => failure(s.result);
/** `pool.sendTo`, as a promise of its outcome. */
const sentTo = (pool: FailoverPool, address: string, opts: CallOptions): Promise<unknown> =>
  new Promise((resolve, reject) => pool.sendTo(address, 'who', new Uint8Array(0), opts, (err, reply) => (err ? reject(err) : resolve(reply))));
const what = (err: RpcError): [string, string | undefined] => [err.codeName, err.retry];

const aborted = (): AbortSignal => AbortSignal.abort();
const timedOut = (): AbortSignal => AbortSignal.abort(new DOMException('the caller\'s budget', 'TimeoutError'));

/** Two servers down, both breakers open after one call that tried both: no server is placeable. */
async function allOpen(): Promise<FailoverPool> {
  // A short connect budget only ends the last attempt's wait through the outage soon.
  // Two distinct ports: `dead()` twice may give one port twice, a list the pool refuses.
  const pool = poolOf((await freePorts(2)).map((p) => `127.0.0.1:${p}`), { retries: 1, circuitBreaker: { minCalls: 1, failureRatio: 0.5 }, pool: { connectBudgetMs: 200 } });
  expect((await failure(pool.call('who'))).code).toBe(ErrorCode.Unreachable);
  expect(pool.stats().map((s) => s.circuit)).toEqual(['open', 'open']);
  return pool;
}

describe('a FailoverPool call whose signal aborted before it was made', () => {
  it('fails Cancelled in an empty pool, not Unreachable ("no servers in the pool")', async () => {
    const pool = poolOf([]);
    const err = await failure(pool.call('who', undefined, { signal: aborted() }));
    expect(what(err)).toEqual(['Cancelled', 'never']);
    expect(err.message).not.toMatch(/no servers/);
  });

  it('fails Timeout for a timeout reason in an empty pool', async () => {
    const pool = poolOf([]);
    expect(what(await failure(pool.call('who', undefined, { signal: timedOut() })))).toEqual(['Timeout', 'never']);
  });

  it('fails Cancelled with every breaker open, not Unreachable', async () => {
    const pool = await allOpen();
    const err = await failure(pool.call('who', undefined, { signal: aborted() }));
    expect(what(err)).toEqual(['Cancelled', 'never']);
    expect(err.message).not.toMatch(/circuit breaker/);
  });

  it('opens no stream: Cancelled in an empty pool and with every breaker open', async () => {
    expect(what(await streamFailure(poolOf([]).openStream('feed', undefined, { signal: aborted() })))).toEqual(['Cancelled', 'never']);
    const pool = await allOpen();
    expect(what(await streamFailure(pool.openStream('feed', undefined, { signal: timedOut() })))).toEqual(['Timeout', 'never']);
  });

  it('sent by name to a server in an outage it would fail fast in: Cancelled, not "cannot reach"', async () => {
    const a = await dead();
    const pool = poolOf([a]);
    // The outage begins with this call's refused connect.
    expect((await failure(sentTo(pool, a, { failFast: true }))).code).toBe(ErrorCode.Unreachable);
    expect(pool.stats()[0]!.state).toBe('backoff');
    const err = await failure(sentTo(pool, a, { failFast: true, signal: aborted() }));
    expect(what(err)).toEqual(['Cancelled', 'never']);
    expect(err.message).not.toMatch(/cannot reach/);
    const s = pool.openStreamTo(a, 'feed', undefined, { failFast: true, signal: timedOut() });
    expect(what(await streamFailure(s))).toEqual(['Timeout', 'never']);
  });
});

describe('a ConnPool call whose signal aborted before it was made', () => {
  it('fails Cancelled in an outage it would fail fast in, not Unreachable: its caller\'s word comes first, as on a ClientStream', async () => {
    const pool = new ConnPool({ transport, address: await dead() });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    // The outage begins with this call's refused connect.
    expect((await failure(pool.call('who', undefined, { failFast: true }))).code).toBe(ErrorCode.Unreachable);
    expect(what(await failure(pool.call('who', undefined, { failFast: true, signal: aborted() })))).toEqual(['Cancelled', 'never']);
    expect(what(await failure(pool.call('who', undefined, { failFast: true, signal: timedOut() })))).toEqual(['Timeout', 'never']);
  });
});
