import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { outcome, serve, startPool } from './harness.js';

// A worker's handler that passes on a downstream's refusal for room (its code and words, which
// the pool forwards as they are) must not send the sign of the server's own refusal: it may have
// done its work first. Its caller reads "may have run", the words marked as passed on.

const MODULE = new URL('./fixtures/passes-on-room.mjs', import.meta.url);
const cleanup = cleanups();

describe("a WorkerPool forwarding a worker's refusal for room", () => {
  it('sends it marked as passed on, read as may have run', async () => {
    const pool = await startPool({ module: MODULE, workers: 1 });
    cleanup.push(() => pool.destroy());
    const s = await serve(pool);
    cleanup.push(() => s.close());
    expect(await outcome(s.stream.call(1, new Uint8Array()))).toEqual({
      code: 'Overloaded',
      retry: 'idempotent',
      message: 'passed on: no room for another stream on this connection (stream budget)',
    });
  });
});
