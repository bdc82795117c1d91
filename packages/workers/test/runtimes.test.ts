import { launch, reap, toolMissing, type RuntimeName } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';

const script = new URL('./fixtures/flood-crash-close.mjs', import.meta.url).pathname;
const stallScript = new URL('./fixtures/stall-replace-close.mjs', import.meta.url).pathname;
const backoffScript = new URL('./fixtures/backoff-replace.mjs', import.meta.url).pathname;
const loadFailsScript = new URL('./fixtures/load-fails-start.mjs', import.meta.url).pathname;

// Node runs the built packages (`pnpm --filter @skein/workers... build` first); Bun and Deno
// run the sources. Each runs its own `node:worker_threads`. Off CI, a runtime that is not
// installed is skipped, and the test's name says why.
describe.each(['node', 'bun', 'deno'] as RuntimeName[])('WorkerPool on %s', (runtime) => {
  const missing = runtime === 'node' ? undefined : toolMissing(runtime);
  it.skipIf(missing !== undefined)(`survives a crash mid-flood, replaces the worker and closes${missing ? ` (skipped: ${missing})` : ''}`, async () => {
    const proc = launch(runtime, script);
    try {
      const [, json] = await proc.waitForLine(/^RESULT (.*)$/, 25_000);
      const r = JSON.parse(json!);
      expect(r.failed).toBeGreaterThanOrEqual(1);
      expect(r.failed).toBeLessThanOrEqual(64); // one worker's share at most
      expect(r).toMatchObject({ failedAsMayHaveRun: true, okRight: true, crashes: 1, second: true, state: 'closed' });
      expect(await proc.exited).toBe(0);
    } finally {
      await reap(proc);
    }
  });

  it.skipIf(missing !== undefined)(`ends a worker that loops forever, then one gone deaf, replaces each and closes${missing ? ` (skipped: ${missing})` : ''}`, async () => {
    const proc = launch(runtime, stallScript);
    try {
      const [, json] = await proc.waitForLine(/^RESULT (.*)$/, 25_000);
      expect(JSON.parse(json!)).toEqual({ loopStalled: true, deafStalled: true, served: true, crashes: 2, state: 'closed' });
      expect(await proc.exited).toBe(0);
    } finally {
      await reap(proc);
    }
  });

  it.skipIf(missing !== undefined)(`replaces workers that keep dying before they answer later each time; a call made meanwhile waits and is answered${missing ? ` (skipped: ${missing})` : ''}`, async () => {
    const proc = launch(runtime, backoffScript);
    try {
      const [, json] = await proc.waitForLine(/^RESULT (.*)$/, 25_000);
      const waited = (ms: number) => `replaced in ${ms} ms (the worker before it here died too, answering no call)`;
      expect(JSON.parse(json!)).toEqual({ waits: ['replaced', 'replaced', waited(100), waited(200), waited(400)], answered: { ok: 42 }, crashes: 5, state: 'closed' });
      expect(await proc.exited).toBe(0);
    } finally {
      await reap(proc);
    }
  });

  it.skipIf(missing !== undefined)(`a module that does not load: start rejects naming why, and the workers throw nothing of the pool's own${missing ? ` (skipped: ${missing})` : ''}`, async () => {
    const proc = launch(runtime, loadFailsScript);
    try {
      const [, json] = await proc.waitForLine(/^RESULT (.*)$/, 25_000);
      expect(JSON.parse(json!)).toEqual({ code: 'InvalidArgument', message: expect.stringMatching(/^worker pool: worker \d could not load its module: cannot open the database$/) });
      expect(await proc.exited).toBe(0);
      // Deno's parentPort has no close(): the worker's own call of it threw, uncaught, beside the reason.
      expect(proc.lines.filter((l) => /Uncaught|port\.close/.test(l))).toEqual([]);
    } finally {
      await reap(proc);
    }
  });
});
