import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { ClientStream, RpcServerOptions } from '@skein/stream';
import { memoryLogger, testCleanups } from '@skein/test-utils';
import { onTestFinished } from 'vitest';
import type { WorkerPoolOptions } from '../src/index.js';
import { serve, startPool } from './harness.js';

/** The module whose loads and handler runs are counted in a file (fixtures/counted.mjs). */
export const COUNTED_MODULE = new URL('./fixtures/counted.mjs', import.meta.url);
export const RUN = 1;
export const CRASH = 2;

let files = 0;

/**
 * A fresh count file for COUNTED_MODULE, named to the workers started from now on (a worker takes
 * a copy of the environment when it starts): what ran is read from the file, not from what the
 * callers were told.
 */
export function countedRuns() {
  const file = `${tmpdir()}/skein-workers-counted-${process.pid}-${++files}`;
  writeFileSync(file, '');
  process.env.SKEIN_WORKERS_COUNTED = file;
  const lines = (): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  return {
    /** How many times the handler of the call tagged `tag` ran. */
    runs: (tag: string): number => lines().filter((l) => l === `run ${tag}`).length,
    /** How many workers loaded the module. */
    loads: (): number => lines().filter((l) => l === 'load').length,
    /** From now on, a worker that loads the module fails to (it throws). */
    breakModule: (): void => writeFileSync(`${file}.broken`, ''),
    /** A call to COUNTED_MODULE: `action` RUN or CRASH, waiting at the gate named `gate` if given. */
    call: (stream: ClientStream, action: number, tag: string, gate?: Uint8Array) =>
      stream.call(action, new TextEncoder().encode(JSON.stringify({ tag, gate: gate ? new TextDecoder().decode(gate) : undefined }))),
    remove: (): void => {
      delete process.env.SKEIN_WORKERS_COUNTED;
      rmSync(file, { force: true });
      rmSync(`${file}.broken`, { force: true });
    },
  };
}

/** The threads this process runs now (Linux: /proc), worker threads among them; undefined elsewhere. */
export function threadCount(): number | undefined {
  return existsSync('/proc/self/task') ? readdirSync('/proc/self/task').length : undefined;
}

/**
 * For a test to call in its body: a pool of COUNTED_MODULE (one worker, one call at a time,
 * internal errors told, unless `opts.pool` says otherwise), a server and client in front of it
 * (`s`), and a fresh count of what ran (`counted`); all closed, and the count removed, when the
 * test ends. `threads` is the process's thread count before the pool started.
 */
export async function countedPool(opts: { pool?: Partial<Omit<WorkerPoolOptions, 'module' | 'execArgv'>>; server?: Partial<RpcServerOptions> } = {}) {
  const cleanup = testCleanups({ onTestFinished });
  const counted = countedRuns();
  cleanup.push(() => counted.remove());
  const threads = threadCount();
  const pool = await startPool({ module: COUNTED_MODULE, workers: 1, maxInFlightPerWorker: 1, exposeInternalErrors: true, logger: memoryLogger(), ...opts.pool });
  cleanup.push(() => pool.destroy());
  const s = await serve(pool, opts.server);
  cleanup.push(() => s.close());
  return { pool, s, threads, counted };
}
