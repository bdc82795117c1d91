import { ErrorCode, silentLogger, systemClock, type RpcError } from '@skein/core';
import { ManualClock, cleanups, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, RpcServer, createRouter, type ActionHandler } from '../src/index.js';
import { transport } from './harness.js';
import { str, textOf } from './pool-harness.js';

// A call that waited for a connection and was never sent, ended by its caller (its signal) or
// by its timeout while no connect had failed (here: waiting for room behind a full window), says
// nothing of its server: a FailoverPool's breaker counts it neither as a success (which hid the
// server's failures behind its callers' cancels) nor as a failure (which opened the breaker of a
// server that only had its window full). What decides the tests is the breaker's state after
// counted outcomes, on a clock the test drives, and how many calls wait (stats); the calls'
// 300 ms timeouts only end them soon.

const cleanup = cleanups();

/** Never answers: ends (answering nothing anyone reads) when its call is cancelled or its connection closes. */
const hangs: ActionHandler = (req) => new Promise((resolve) => req.onAbort(() => resolve(str('late'))));

/** Server `a`: `who` answers, `boom` fails (Internal, a failure for its breaker), `hold` hangs. */
async function serverA(): Promise<string> {
  const table = { who: () => str('a'), hold: hangs, boom: () => Promise.reject(new Error('a is sick')) };
  const server = new RpcServer({ dispatch: createRouter(table, silentLogger), closeWaitMs: 0 });
  const bound = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return `${bound.host}:${bound.port}`;
}

const failure = (p: Promise<unknown>): Promise<RpcError> => p.then(() => expect.unreachable('the call succeeded'), (e: unknown) => e as RpcError);

/**
 * A pool of `a` alone, one connection with a window of one call: a `hold` on it makes every
 * other call wait in the pool, unsent. Its breaker counts on a clock the test drives.
 */
async function poolOfA(minCalls: number) {
  const pool = new FailoverPool({
    transport,
    servers: [await serverA()],
    retries: 0,
    clock: new ManualClock(),
    pool: { clock: systemClock, maxConnections: 1, stream: { window: 1 } },
    circuitBreaker: { minCalls, failureRatio: 0.5 },
  });
  cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
  expect(textOf(await pool.call('who'))).toBe('a');
  const held = new AbortController();
  const hold = failure(pool.call('hold', undefined, { signal: held.signal, timeoutMs: 30_000 }));
  const waiting = async (n: number): Promise<void> => {
    await waitFor(() => pool.stats()[0]!.queued === n, { timeoutMs: 10_000, what: `${n} calls waiting` });
  };
  const circuit = (): string => pool.stats()[0]!.circuit;
  return { pool, hold, release: () => held.abort(), waiting, circuit };
}

describe("a FailoverPool call never sent, for its server's breaker", () => {
  it('cancelled while it waited for a connection: no success, the failures after open the breaker', async () => {
    const { pool, hold, release, waiting, circuit } = await poolOfA(4);
    const controllers = Array.from({ length: 20 }, () => new AbortController());
    const calls = controllers.map((ac) => failure(pool.call('who', undefined, { signal: ac.signal, timeoutMs: 30_000 })));
    await waiting(20);
    for (const ac of controllers) ac.abort();
    for (const err of await Promise.all(calls)) expect([err.codeName, err.retry]).toEqual(['Cancelled', 'never']);
    release();
    expect((await hold).code).toBe(ErrorCode.Cancelled);
    // Counted: who and hold (sent: successes), then two failures of four: the breaker opens.
    // Counted as successes, the 20 cancels made it 2 of 24, and it stayed closed.
    for (let i = 0; i < 2; i++) expect((await failure(pool.call('boom'))).code).toBe(ErrorCode.Internal);
    expect(circuit()).toBe('open');
  });

  it('timed out waiting for room, no connect failed: no failure, the breaker stays closed', async () => {
    const { pool, hold, release, waiting, circuit } = await poolOfA(4);
    const calls = Array.from({ length: 4 }, () => failure(pool.call('who', undefined, { timeoutMs: 300 })));
    await waiting(4);
    for (const err of await Promise.all(calls)) {
      expect([err.codeName, err.retry]).toEqual(['Timeout', 'safe']);
      expect(err.message).toMatch(/never sent/);
    }
    // Counted as failures, the four timeouts made it 4 of 5, and it opened.
    expect(circuit()).toBe('closed');
    release();
    expect((await hold).code).toBe(ErrorCode.Cancelled);
    expect(textOf(await pool.call('who'))).toBe('a');
  });
});
