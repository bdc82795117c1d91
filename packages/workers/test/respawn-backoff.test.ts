import type { Logger } from '@skein/core';
import { cleanups, waitFor } from '@skein/test-utils';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { outcome, serve, startPool } from './harness.js';

// A module that loads and then dies on its own, every time, must not be restarted as fast as a
// thread can start: each worker after the first of a row that answered no call waits twice as
// long as the one before it (respawn-backoff.ts).

const DIES_MODULE = new URL('./fixtures/dies-after-load.mjs', import.meta.url);
const marker = `${tmpdir()}/skein-workers-dies-${process.pid}`;
const cleanup = cleanups();

describe('WorkerPool: workers that keep dying before they answer a call', () => {
  it('are replaced later each time (100 ms, 200 ms, ...); a call made meanwhile waits for the replacement, which serves it once the module lives', async () => {
    const errors: string[] = [];
    let late: Promise<unknown> | undefined;
    let calc: Awaited<ReturnType<typeof serve>>['calc'] | undefined;
    const logger: Logger = {
      debug() {},
      info() {},
      warn() {},
      error: (_obj, msg) => {
        errors.push(msg!);
        // The sixth death: its replacement waits 800 ms. While no worker is left, a call comes,
        // and the module is mended (the next worker lives).
        if (/replaced in 800 ms/.test(msg!)) {
          rmSync(marker, { force: true });
          late = outcome(calc!.add({ a: 20, b: 22 }));
        }
      },
    };
    const pool = await startPool({ module: DIES_MODULE, workers: 1, logger, exposeInternalErrors: true });
    cleanup.push(() => pool.destroy());
    const s = await serve(pool);
    cleanup.push(() => s.close());
    calc = s.calc;
    expect(await calc.add({ a: 1, b: 1 })).toBe(2);
    writeFileSync(marker, '');
    cleanup.push(() => rmSync(marker, { force: true }));
    // The first worker answered a call: its death is replaced at once, as is the first of its
    // replacements that die answering nothing; the ones after wait, longer each time.
    expect(await outcome(calc.crash())).toMatchObject({ code: 'IO', retry: 'idempotent' });
    await waitFor(() => late, { what: 'the sixth death in a row', timeoutMs: 20_000 });
    const waited = (ms: number) => `worker 0 threw Error: lost the database; it held no calls; replaced in ${ms} ms (the worker before it here died too, answering no call)`;
    expect(errors).toEqual([
      'worker 0 exited with code 7; the 1 call it held failed (it may have run); replaced',
      'worker 0 threw Error: lost the database; it held no calls; replaced',
      waited(100),
      waited(200),
      waited(400),
      waited(800),
    ]);
    // Queued while no worker was left and one was due: it waited, unfailed, and the replacement ran it.
    expect(await late).toEqual({ ok: 42 });
    expect(pool.stats()).toMatchObject({ workers: 1, crashes: 6, queued: 0, inFlight: 0 });
    expect(errors).toHaveLength(6);
  });
});
