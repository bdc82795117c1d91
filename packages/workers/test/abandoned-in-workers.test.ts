import { msgpackCodec } from '@skein/codec-msgpack';
import { createClient } from '@skein/api';
import { RpcError } from '@skein/core';
import { cleanups, olderSkeinClient, sleep, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream } from '@skein/stream';
import { CALC_MODULE, serve, startPool, transport } from './harness.js';

const CALC_TIMED_MODULE = new URL('./fixtures/calc-timed.mjs', import.meta.url);
import { Calc } from './fixtures/calc.mjs';

// A client that abandons every call it makes (cancels it, or lets its deadline pass) to a
// handler in a worker that ignores its signal (fixtures/calc.mjs's `hold`, shut at its gate):
// the worker answers each at once and frees its place, but the handler runs on. The server counts
// them against the connection as it counts its own loop's (at most twice maxInFlightPerConn
// handlers running), because the worker's dispatch tells when they end; without that, each
// abandoned call let another handler start beside it, without bound.

const cleanup = cleanups();
const CAP = 4;
const CALLS = 40;

/** The worker's `hold` handlers started so far (they say so on a channel), and each one's call aborted as it starts. */
function watchStarts(onStart: (n: number) => void) {
  const started = new Set<number>();
  const holding = new BroadcastChannel('skein-workers-test-holding');
  holding.onmessage = (e: { data: number }) => {
    started.add(e.data);
    onStart(e.data);
  };
  cleanup.push(() => holding.close());
  return started;
}

/** Opens calc.mjs's gate in every worker: the `hold` handlers waiting there end. */
function openGate(): void {
  const bc = new BroadcastChannel('skein-workers-test-gate');
  bc.postMessage('open');
  bc.close();
}

const code = (e: unknown): string => (e instanceof RpcError ? e.codeName : String(e));

describe('handlers in a worker of calls their client abandoned', () => {
  it.each(['cancel', 'deadline'] as const)('stay within twice maxInFlightPerConn per connection (%s), and the connection goes on once they end', async (how) => {
    const pool = await startPool({ module: CALC_MODULE, workers: 1 });
    cleanup.push(() => pool.destroy());
    // Cancelled, the calls go out CAP at a time: a cancel sent behind a request past the cap is
    // read only once a slot frees (docs/protocol.md, "Cancel"). Past their deadlines, all at once.
    // An older Skein client (no hello kind 24): its window is not narrowed to the cap, so past their deadlines the calls come past it.
    const older = { transport: olderSkeinClient(transport, 24) };
    const s = await serve(pool, { maxInFlightPerConn: CAP, closeWaitMs: 0 }, how === 'cancel' ? { ...older, window: CAP } : older);
    cleanup.push(() => s.close());
    await s.stream.ping(); // the hello is answered: calls carry their heads
    const aborts = Array.from({ length: CALLS }, () => new AbortController());
    const started = watchStarts((n) => {
      if (how === 'cancel') aborts[n]!.abort();
    });
    // A deadline of 50 ms each: the server answers Timeout and tells the worker, whose handler runs on.
    const opts = (i: number) => (how === 'cancel' ? { signal: aborts[i]!.signal, timeoutMs: 60_000 } : { timeoutMs: 50 });
    const calls = Array.from({ length: CALLS }, (_, i) => s.calc.hold(i, opts(i)).then((v) => (v === i ? 'ran' : `ran as ${v}`), code));
    // Bounded generously: under load a worker thread can take seconds to start them.
    await waitFor(() => started.size >= 2 * CAP, { what: 'handlers started in the worker', timeoutMs: 20_000 }).catch((e) => {
      throw new Error(`${e.message}: ${[...started].join(',')} ${JSON.stringify(s.server.stats())}`);
    });
    // Not a race decided by time: with the bound kept no more ever start while these run.
    await sleep(300);
    expect(started.size).toBeLessThanOrEqual(2 * CAP);
    // Another connection to the same server and pool is not held back by this one's.
    const otherStream = await ClientStream.connect({ transport, address: `127.0.0.1:${s.port}` });
    cleanup.push(() => otherStream.destroy());
    expect(await createClient(Calc, otherStream, { codec: msgpackCodec }).add({ a: 1, b: 2 })).toBe(3);

    // The handlers end: the connection reads on, and every call ends.
    openGate();
    const outcomes = new Set(await Promise.all(calls));
    for (const o of outcomes) expect(['ran', how === 'cancel' ? 'Cancelled' : 'Timeout']).toContain(o);
    expect(await s.calc.add({ a: 2, b: 3 })).toBe(5);
  });

  it("the module's own handlerTimeoutMs: a handler answered Timeout in the worker and running on counts too", async () => {
    const pool = await startPool({ module: CALC_TIMED_MODULE, workers: 1 });
    cleanup.push(() => pool.destroy());
    const s = await serve(pool, { maxInFlightPerConn: CAP, closeWaitMs: 0 });
    cleanup.push(() => s.close());
    const started = watchStarts(() => {});
    const calls = Array.from({ length: CALLS }, (_, i) => s.calc.hold(i, { timeoutMs: 60_000 }).then((v) => (v === i ? 'ran' : `ran as ${v}`), code));
    await waitFor(() => started.size >= 2 * CAP, { what: 'handlers started in the worker', timeoutMs: 20_000 });
    // Each wave of CAP ends at the handler timeout (200 ms, swept at 200 ms ticks: up to 600 ms): more would show here.
    await sleep(1_500);
    expect(started.size).toBeLessThanOrEqual(2 * CAP);
    openGate();
    const outcomes = new Set(await Promise.all(calls));
    for (const o of outcomes) expect(['ran', 'Timeout']).toContain(o);
    expect(await s.calc.add({ a: 2, b: 3 })).toBe(5);
  });
});
