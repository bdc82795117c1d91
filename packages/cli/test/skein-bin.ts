import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built bin, run as a user runs it (`pnpm --filter @skein/cli build` first). */
export const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `skein ...args` in a child process; its exit code and output. */
export function skein(...args: string[]): Promise<Run> {
  return skeinWithin(20_000, ...args);
}

/**
 * Runs `skein ...args` in this process: `main`, the bin's own function, with its output
 * collected. For command lines refused before anything is dialled (exit 2), where a node start
 * per line was most of the test's time; the bin itself is run by the tests that connect.
 */
export async function skeinInProcess(...args: string[]): Promise<Run> {
  // Loaded here, not at the top: the files that only run the bin do not load the CLI as well.
  const { main } = await import('../src/main.js');
  let stdout = '';
  let stderr = '';
  const code = await main(args, { write: (s: string) => ((stdout += s), true) }, { write: (s: string) => ((stderr += s), true) });
  return { code, stdout, stderr };
}

/**
 * As `skein`, killed after `timeoutMs`: only the test's bound (a CLI that keeps its word exits by
 * itself). It starts once fewer than MAX_CHILDREN of this test file's children run, and its bound
 * counts from then.
 */
export async function skeinWithin(timeoutMs: number, ...args: string[]): Promise<Run> {
  const release = await childSlot();
  try {
    return await new Promise((resolve) => {
      execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
      });
    });
  } finally {
    release();
  }
}

/**
 * `skein` children of one test file running at once, at most. Tests run concurrently
 * (describe.concurrent), and most of a child's life is node starting up, CPU work: more children
 * at once than this only slow each of them (CI runs three test files at a time on 2 cores), to
 * where a child's start-up alone could reach its kill.
 */
const MAX_CHILDREN = 3;
let running = 0;
const waiting: (() => void)[] = [];

/** Waits for a free slot, takes it; the function that gives it back. */
async function childSlot(): Promise<() => void> {
  while (running >= MAX_CHILDREN) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  return () => {
    running--;
    waiting.shift()?.();
  };
}
