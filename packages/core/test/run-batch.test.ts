import { describe, expect, it } from 'vitest';
import { RunBatch, Slab } from '../src/index.js';

const bytes = (...b: number[]) => Uint8Array.from(b);
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A batch whose flushes are logged as `name:bytes`, by an owner that may throw. */
function logged(name: string, log: string[], slab: Slab, throws = false): RunBatch {
  const batch: RunBatch = new RunBatch(slab, 16, () => {
    const chunks = batch.takeAll() ?? [];
    log.push(`${name}:${chunks.flatMap((c) => [...c]).join(',')}`);
    if (throws) throw new Error(`${name} failed`);
  });
  return batch;
}

describe('RunBatch', () => {
  it('flushes every batch written in a run once the run is over, in the order they were first written', async () => {
    const slab = new Slab(64);
    const log: string[] = [];
    const a = logged('a', log, slab);
    const b = logged('b', log, slab);
    b.add(bytes(1));
    a.add(bytes(2));
    b.add(bytes(3));
    expect(log).toEqual([]);
    await Promise.resolve();
    expect(log).toEqual(['b:1,3', 'a:2']);
    // The next run's writes make a batch of their own.
    a.add(bytes(4));
    await turn();
    expect(log).toEqual(['b:1,3', 'a:2', 'a:4']);
  });

  it('still flushes the other batches of a run when one owner throws', async () => {
    const slab = new Slab(64);
    const log: string[] = [];
    const thrown: unknown[] = [];
    const onError = (err: unknown) => thrown.push(err);
    process.on('uncaughtException', onError);
    try {
      const bad = logged('bad', log, slab, true);
      const good = logged('good', log, slab);
      bad.add(bytes(1));
      good.add(bytes(2));
      await turn();
      expect(log).toEqual(['bad:1', 'good:2']);
      expect(thrown.map((e) => (e as Error).message)).toEqual(['bad failed']);
      // Both go on batching.
      bad.add(bytes(3));
      good.add(bytes(4));
      await turn();
      expect(log).toEqual(['bad:1', 'good:2', 'bad:3', 'good:4']);
    } finally {
      process.off('uncaughtException', onError);
    }
  });

  it('moves a deferred batch to the end of the macrotask, behind the others', async () => {
    const slab = new Slab(64);
    const log: string[] = [];
    const a = logged('a', log, slab);
    const b = logged('b', log, slab);
    a.add(bytes(1));
    a.defer();
    b.add(bytes(2));
    await Promise.resolve();
    expect(log).toEqual(['b:2']);
    await turn();
    expect(log).toEqual(['b:2', 'a:1']);
  });
});
