import { createClient } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { describe, expect, it } from 'vitest';
import { Turns } from './fixtures/turns.mjs';
import { serve, startPool } from './harness.js';
import { cleanups } from '@skein/test-utils';

const TURNS_MODULE = new URL('./fixtures/turns.mjs', import.meta.url);

const cleanup = cleanups();

/** A pool of `workers` running the Turns service, served on loopback, and a typed client to it. */
async function turnsOn(workers: number, maxInFlightPerWorker: number) {
  const pool = await startPool({ module: TURNS_MODULE, workers, maxInFlightPerWorker });
  cleanup.push(() => pool.destroy());
  const s = await serve(pool);
  cleanup.push(() => s.close());
  return createClient(Turns, s.stream, { codec: msgpackCodec });
}

describe('WorkerPool batches', () => {
  it('sends a worker at most half of what it may hold at once: its next batch waits while it runs one', async () => {
    const turns = await turnsOn(1, 4);
    // Eight calls in one turn of the client: one frame batch, queued on the server's thread together.
    const got = await Promise.all(Array.from({ length: 8 }, () => turns.turn()));
    const perTurn = new Map<number, number>();
    for (const t of got) perTurn.set(t, (perTurn.get(t) ?? 0) + 1);
    // Batches of at most 2 (half of 4), however the frames were read: never a run of 3 or 4.
    expect(Math.max(...perTurn.values())).toBe(2);
    expect(got).toEqual([...got].sort((a, b) => a - b));
  });

  it('spreads a burst evenly over idle workers', async () => {
    const turns = await turnsOn(2, 16);
    // Six calls in one turn of the client, fewer than a batch (8): three to each idle worker, not all six to one.
    const threads = await Promise.all(Array.from({ length: 6 }, () => turns.where()));
    const perThread = new Map<number, number>();
    for (const t of threads) perThread.set(t, (perThread.get(t) ?? 0) + 1);
    expect([...perThread.values()]).toEqual([3, 3]);
  });
});
