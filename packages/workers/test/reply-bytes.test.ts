import { describe, expect, it } from 'vitest';
import { cleanups } from '@skein/test-utils';
import { serve, startPool } from './harness.js';
import scratchReply from './fixtures/scratch-reply.mjs';

const SCRATCH_MODULE = new URL('./fixtures/scratch-reply.mjs', import.meta.url);
const cleanup = cleanups();
const bytes = (s: string) => new TextEncoder().encode(s);
const text = new TextDecoder();

/** Four calls to `s`, answered together by the scratch-reply dispatch: each answer's msg and blob. */
async function fourCalls(s: Awaited<ReturnType<typeof serve>>) {
  const got = await Promise.all(['aa', 'bb', 'cc', 'dd'].map((m) => s.stream.call(1, bytes(m))));
  return got.map((r) => [text.decode(r.msg), text.decode(r.blob)]);
}

describe('WorkerPool reply bytes', () => {
  it('answers a handler reply that is a view of a buffer it reuses as it was when replied, as in process', async () => {
    const inProcess = await serve(scratchReply);
    cleanup.push(() => inProcess.close());
    const want = await fourCalls(inProcess);
    // Each call its own bytes: what a reply is is fixed when it is written.
    expect(want).toEqual([['aa', 'aa'], ['bb', 'bb'], ['cc', 'cc'], ['dd', 'dd']]);

    // One worker, room for all four at once: they are held there together and answered in one turn.
    const pool = await startPool({ module: SCRATCH_MODULE, workers: 1, maxInFlightPerWorker: 16 });
    cleanup.push(() => pool.destroy());
    const s = await serve(pool);
    cleanup.push(() => s.close());
    expect(await fourCalls(s)).toEqual(want);
  });
});
