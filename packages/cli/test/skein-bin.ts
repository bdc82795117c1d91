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

/** As `skein`, killed after `timeoutMs`: only the test's bound (a CLI that keeps its word exits by itself). */
export function skeinWithin(timeoutMs: number, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}
