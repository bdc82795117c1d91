import { memoryLogger, waitFor, cleanups } from '@skein/test-utils';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { WorkerPoolOptions } from '../src/index.js';
import { batchAfter, claimBatch, newMessagesTaken, nextBatch, sealBatches, takenCounter } from '../src/messages-taken.js';
import { outcome, serve, startPool } from './harness.js';
import { ECHO, LOOP, BLOCK_THEN_EXIT, ANSWER_THEN_BLOCK, STALLS_MODULE as MODULE } from './fixtures/stalls-actions.js';

// Calls sent to a worker in a batch it never took off its port (its thread blocked, or it
// exited first) never ran: when the worker is ended, they go to another worker (a replacement)
// instead of failing "may have run"; when the pool itself is being destroyed, they fail Closed,
// bare (unrun: retry 'safe'). Only the batch the worker took may have run.

const utf8 = new TextEncoder();
const text = new TextDecoder();
/**
 * The stall bound where a call blocks its worker and more are then sent to it: room enough for
 * them to be posted before the stall is found, even on a busy machine.
 */
const BOUND = 1000;
/** Where the worker blocks holding nothing: the watch starts only once calls are sent to it. */
const IDLE_BOUND = 300;
/** Only a safety net: every wait below ends by an event. */
const NET = 15_000;

const cleanup = cleanups();

async function served(opts: Partial<WorkerPoolOptions> = {}) {
  const logger = memoryLogger();
  const pool = await startPool({ module: MODULE, workers: 1, maxInFlightPerWorker: 8, logger, exposeInternalErrors: true, ...opts });
  cleanup.push(() => pool.destroy());
  const s = await serve(pool);
  cleanup.push(() => s.close());
  return { pool, logger, stream: s.stream };
}

type Stream = Awaited<ReturnType<typeof served>>['stream'];
const call = (stream: Stream, action: number, msg = '', opts: { timeoutMs?: number } = {}) => outcome(stream.call(action, utf8.encode(msg), opts).then((r) => text.decode(r.msg)));
let markers = 0;
/** A file path the test or a handler makes to tell the other that it got somewhere; removed after the test. */
function tempMarker(): string {
  const path = `${tmpdir()}/skein-workers-untaken-${process.pid}-${markers++}`;
  rmSync(path, { force: true });
  cleanup.push(() => rmSync(path, { force: true }));
  return path;
}
const errorLines = (logger: ReturnType<typeof memoryLogger>) => logger.lines.filter((l) => l.level === 'error').map((l) => l.msg);
const echoes = (stream: Stream, n: number, opts?: { timeoutMs?: number }) => Array.from({ length: n }, (_, i) => call(stream, ECHO, `e${i}`, opts));
const echoed = (n: number) => Array.from({ length: n }, (_, i) => ({ ok: `e${i}` }));

describe('WorkerPool: calls a worker never took', () => {
  it('a stalled worker: the calls of the batches it never read go to its replacement and are answered; only the call it was running fails IO', async () => {
    const { pool, logger, stream } = await served({ stallTimeoutMs: BOUND });
    const looping = call(stream, LOOP);
    // The loop's batch is posted alone; the echoes follow in a batch the blocked thread never reads.
    await waitFor(() => pool.stats().inFlight === 1);
    const later = echoes(stream, 3);
    await waitFor(() => pool.stats().inFlight === 4);
    expect(await looping).toEqual({ code: 'IO', retry: 'idempotent', message: `action ${LOOP}: worker 0 made no progress for ${BOUND} ms while holding this call; the handler may have run` });
    expect(await Promise.all(later)).toEqual(echoed(3));
    expect(pool.stats()).toMatchObject({ crashes: 1, workers: 1, inFlight: 0, queued: 0 });
    expect(errorLines(logger)).toEqual([`worker 0 made no progress for ${BOUND} ms; the 1 call it held failed (it may have run); 3 calls it had not taken were queued again; replaced`]);
  }, NET);

  it('calls queued again go ahead of the calls that waited in the queue behind them', async () => {
    // One call per batch, two held at most: the loop's batch, then e0's (never read); e1 and e2 wait in the pool.
    const { pool, stream } = await served({ stallTimeoutMs: BOUND, maxInFlightPerWorker: 2 });
    const order: string[] = [];
    const looping = call(stream, LOOP);
    await waitFor(() => pool.stats().inFlight === 1);
    const later = echoes(stream, 3).map((p) => p.then((r) => (order.push((r as { ok: string }).ok), r)));
    await waitFor(() => pool.stats().inFlight === 2 && pool.stats().queued === 2);
    expect(await looping).toMatchObject({ code: 'IO' });
    expect(await Promise.all(later)).toEqual(echoed(3));
    expect(order).toEqual(['e0', 'e1', 'e2']);
  }, NET);

  it('the calls of several batches never taken go to the replacement in the order they were sent, whatever places the pool gave them', async () => {
    const { pool, stream } = await served({ stallTimeoutMs: BOUND });
    // Four calls answered together free their places last first: the next calls take them from
    // the highest down, so the places of e0, e1, e2 run against the order they were sent in.
    expect(await Promise.all(echoes(stream, 4))).toEqual(echoed(4));
    const looping = call(stream, LOOP);
    await waitFor(() => pool.stats().inFlight === 1);
    // One call per batch: each is sent once the one before it is held.
    const order: string[] = [];
    const later: Promise<unknown>[] = [];
    for (let i = 0; i < 3; i++) {
      later.push(call(stream, ECHO, `e${i}`).then((r) => (order.push((r as { ok: string }).ok), r)));
      await waitFor(() => pool.stats().inFlight === i + 2);
    }
    expect(await looping).toMatchObject({ code: 'IO' });
    expect(await Promise.all(later)).toEqual(echoed(3));
    expect(order).toEqual(['e0', 'e1', 'e2']);
  }, NET);

  it('a thread that blocks while it holds no call: the calls sent to it later are answered by its replacement, none fails', async () => {
    const marker = tempMarker();
    const { pool, logger, stream } = await served({ stallTimeoutMs: IDLE_BOUND });
    expect(await call(stream, ANSWER_THEN_BLOCK, marker)).toEqual({ ok: marker });
    // Blocked now, holding nothing: the watch does not look at it until calls are sent.
    await waitFor(() => existsSync(marker));
    const later = echoes(stream, 3);
    expect(await Promise.all(later)).toEqual(echoed(3));
    expect(pool.stats()).toMatchObject({ crashes: 1, workers: 1, inFlight: 0 });
    expect(errorLines(logger)).toEqual([`worker 0 made no progress for ${IDLE_BOUND} ms; it held no calls; 3 calls it had not taken were queued again; replaced`]);
  }, NET);

  it('a worker that crashes with batches unread on its port: those calls are answered by its replacement', async () => {
    const marker = tempMarker();
    // The watch is off: the crash alone ends the worker.
    const { pool, logger, stream } = await served({ stallTimeoutMs: 0 });
    const crashing = call(stream, BLOCK_THEN_EXIT, marker);
    await waitFor(() => pool.stats().inFlight === 1);
    const later = echoes(stream, 3);
    await waitFor(() => pool.stats().inFlight === 4);
    writeFileSync(marker, '');
    expect(await crashing).toEqual({ code: 'IO', retry: 'idempotent', message: `action ${BLOCK_THEN_EXIT}: worker 0 exited with code 7 while holding this call; the handler may have run` });
    expect(await Promise.all(later)).toEqual(echoed(3));
    expect(errorLines(logger)).toEqual(['worker 0 exited with code 7; the 1 call it held failed (it may have run); 3 calls it had not taken were queued again; replaced']);
  }, NET);

  it('calls with a head (a deadline) that were never taken are answered by the replacement too', async () => {
    const { pool, stream } = await served({ stallTimeoutMs: BOUND });
    // Until the hello is answered a call's deadline travels as a plain call: a round trip first.
    expect(await call(stream, ECHO, 'w')).toEqual({ ok: 'w' });
    const looping = call(stream, LOOP);
    await waitFor(() => pool.stats().inFlight === 1);
    const later = echoes(stream, 2, { timeoutMs: 10_000 });
    await waitFor(() => pool.stats().inFlight === 3);
    expect(await looping).toMatchObject({ code: 'IO', retry: 'idempotent' });
    expect(await Promise.all(later)).toEqual(echoed(2));
  }, NET);

  it('destroy(): the calls a blocked worker never took fail Closed, bare (unrun, retry safe); the one it was running fails IO', async () => {
    const { pool, stream } = await served({ stallTimeoutMs: 0 });
    const looping = call(stream, LOOP);
    await waitFor(() => pool.stats().inFlight === 1);
    const later = echoes(stream, 3);
    await waitFor(() => pool.stats().inFlight === 4);
    await pool.destroy();
    expect(await looping).toEqual({ code: 'IO', retry: 'idempotent', message: `action ${LOOP}: worker 0 was ended by destroy() while holding this call; the handler may have run` });
    expect(await Promise.all(later)).toEqual(Array(3).fill({ code: 'Closed', retry: 'safe', message: 'rpc_closed' }));
  }, NET);
});

// Review: close() waits for what the pool holds; a stalled worker's untaken calls, queued again
// while it waits, must still be answered (a replacement is made for them), and close then ends.
describe('WorkerPool: calls a worker never took, while the pool closes', () => {
  it('close() while a worker is stalled: its untaken calls are answered by a replacement, and close resolves', async () => {
    const { pool, stream } = await served({ stallTimeoutMs: BOUND });
    const looping = call(stream, LOOP);
    await waitFor(() => pool.stats().inFlight === 1);
    const later = echoes(stream, 3);
    await waitFor(() => pool.stats().inFlight === 4);
    const closed = pool.close();
    expect(await looping).toMatchObject({ code: 'IO', retry: 'idempotent' });
    expect(await Promise.all(later)).toEqual(echoed(3));
    await closed;
    expect(pool.stats()).toMatchObject({ state: 'closed', crashes: 1, inFlight: 0, queued: 0 });
  }, NET);
});

describe('the batch numbers a worker claims (messages-taken.ts)', () => {
  it('once the pool has sealed them, a worker can claim no batch: none it counted as never taken can start', () => {
    const words = takenCounter(newMessagesTaken());
    expect(claimBatch(words, 1)).toBe(true);
    expect(claimBatch(words, 2)).toBe(true);
    expect(sealBatches(words)).toBe(2);
    expect(claimBatch(words, 3)).toBe(false);
    expect(claimBatch(words, nextBatch(-1))).toBe(false);
    expect(batchAfter(3, 2)).toBe(true);
    expect(batchAfter(2, 2)).toBe(false);
    expect(batchAfter(1, 2)).toBe(false);
  });

  it('batch numbers wrap below the seal, and still compare across the wrap', () => {
    const top = 0x7fff_ffff;
    expect(nextBatch(top)).toBe(0);
    expect(batchAfter(nextBatch(top), top)).toBe(true);
    expect(batchAfter(top, nextBatch(top))).toBe(false);
    expect(batchAfter(5, top - 5)).toBe(true);
  });
});
