import { ErrorCode, RpcError, silentLogger, systemClock } from '@skein/core';
import { ManualClock, cleanups, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, RpcServer, createRouter, type FailoverPoolOptions, type ServerHealthEvent } from '../src/index.js';
import { transport } from './harness.js';
import { str, textOf } from './pool-harness.js';

// A call the client refuses itself, unsent (over the limits its server declared: FrameTooLarge,
// `retry: 'safe'`; bad arguments: InvalidArgument), says nothing of its server: a FailoverPool's
// breaker counts it neither as a success (which hid real failures behind the caller's mistakes,
// or closed a half-open breaker untested) nor as a failure. What decides these tests is the
// breaker's state after counted outcomes, on a clock the test drives; never how long anything took.

const cleanup = cleanups();
const MAX_MESSAGE = 1024;
const oversized = new Uint8Array(2 * MAX_MESSAGE);

/** Server `a`, declaring maxMessage 1 KiB: `who` answers, `boom` fails (Internal, a failure for its breaker). */
async function limitedServer(): Promise<string> {
  const table = {
    who: () => str('a'),
    boom: () => {
      throw new Error('a is sick');
    },
  };
  const server = new RpcServer({ dispatch: createRouter(table, silentLogger), clients: { limits: { maxMessage: MAX_MESSAGE } }, closeWaitMs: 0 });
  const bound = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return `${bound.host}:${bound.port}`;
}

/** A pool of `a` alone, its breaker on a clock the test drives (its connections on the real one), recording health events (and telling `onEvent`). */
async function poolOfA(opts: Pick<FailoverPoolOptions, 'circuitBreaker'>, onEvent?: (kind: string) => void) {
  const clock = new ManualClock();
  const events: string[] = [];
  const pool = new FailoverPool({
    transport,
    servers: [await limitedServer()],
    retries: 0,
    clock,
    pool: { clock: systemClock },
    onServerHealth: (e: ServerHealthEvent) => {
      events.push(e.kind);
      onEvent?.(e.kind);
    },
    ...opts,
  });
  cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
  const circuit = (): string => pool.stats()[0]!.circuit;
  return { pool, clock, events, circuit };
}

const failure = (p: Promise<unknown>): Promise<RpcError> => p.then(() => expect.unreachable('the call succeeded'), (e: unknown) => e as RpcError);

describe("a FailoverPool call its client refused unsent, for its server's breaker", () => {
  it('counts as no success: the failures that follow open the breaker as if the refusals were never made', async () => {
    const { pool, events, circuit } = await poolOfA({ circuitBreaker: { minCalls: 4, failureRatio: 0.5 } });
    // Its hello's answer (the limits) is in after a first call: 1 call, no failure.
    expect(textOf(await pool.call('who'))).toBe('a');
    for (let i = 0; i < 20; i++) {
      const err = await failure(pool.call('who', oversized));
      expect([err.code, err.retry]).toEqual([ErrorCode.FrameTooLarge, 'safe']);
      // Refused by the client before sending: a numeric action out of range, metadata that is no record.
      expect((await failure(pool.call(-1))).code).toBe(ErrorCode.InvalidArgument);
      expect((await failure(pool.call('who', undefined, { metadata: 'no record' as never }))).code).toBe(ErrorCode.InvalidArgument);
    }
    expect(circuit()).toBe('closed');
    // Three failures of four counted calls: the breaker opens (counted as successes, the 60
    // refusals made 3 of 64, and it stayed closed).
    for (let i = 0; i < 3; i++) expect((await failure(pool.call('boom'))).code).toBe(ErrorCode.Internal);
    expect(events).toEqual(['circuit-open']);
    expect(circuit()).toBe('open');
  });

  it('closes no half-open breaker: a probe refused unsent gives its place to the next call, which decides', async () => {
    const { pool, clock, events, circuit } = await poolOfA({ circuitBreaker: { minCalls: 2, failureRatio: 0.5, openMs: 1000, halfOpenCalls: 1 } });
    expect(textOf(await pool.call('who'))).toBe('a');
    expect((await failure(pool.call('boom'))).code).toBe(ErrorCode.Internal);
    expect(circuit()).toBe('open');
    clock.advance(1000);
    // The probe the half-open breaker lets through is over the limits: refused unsent, it proves nothing.
    const err = await failure(pool.call('who', oversized));
    expect(err.code).toBe(ErrorCode.FrameTooLarge);
    expect(circuit()).toBe('half-open');
    // Its place went back: the next call is the probe, and its success closes the breaker.
    expect(textOf(await pool.call('who'))).toBe('a');
    expect(circuit()).toBe('closed');
    expect(events).toEqual(['circuit-open', 'circuit-half-open', 'circuit-closed']);
  });
  it('closes no half-open breaker with a probe its caller aborted as it was picked (refused unsent by its connection)', async () => {
    let probe: AbortController | undefined;
    // The probe's own signal aborts while the pool picks it (the hook runs in the pick): its connection refuses it unsent.
    const { pool, clock, events } = await poolOfA({ circuitBreaker: { minCalls: 2, failureRatio: 0.5, openMs: 1000, halfOpenCalls: 1 } }, (kind) => {
      if (kind === 'circuit-half-open') probe?.abort();
    });
    expect(textOf(await pool.call('who'))).toBe('a');
    expect((await failure(pool.call('boom'))).code).toBe(ErrorCode.Internal);
    expect(pool.stats()[0]!.circuit).toBe('open');
    clock.advance(1000);
    probe = new AbortController();
    expect((await failure(pool.call('who', undefined, { signal: probe.signal }))).code).toBe(ErrorCode.Cancelled);
    expect(pool.stats()[0]!.circuit).toBe('half-open');
    expect(textOf(await pool.call('who'))).toBe('a');
    expect(events).toEqual(['circuit-open', 'circuit-half-open', 'circuit-closed']);
  });
});
