import { startProcess, type Proc } from './process.js';
import { repoTool } from './repo-tool.js';

export type RuntimeName = 'node' | 'bun' | 'deno';

// With a package.json beside the script and no deno.json, Deno resolves bare specifiers through
// node_modules (the workspace symlinks). `--conditions skein-source` picks each package's
// src/index.ts; `--sloppy-imports` lets those sources import './x.js' for './x.ts', as tsc wants.
const DENO_PERMISSIONS = ['--allow-net', '--allow-read', '--allow-write', '--allow-env'];
const DENO_FLAGS = ['--conditions', 'skein-source', '--sloppy-imports'];
const QUIET = { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' };

export interface LaunchOptions {
  /** Deno's permission flags instead of the default net, read, write and env: what a user might run with. */
  denoPermissions?: readonly string[];
}

/**
 * Runs a script on a runtime, with the repository's own binary. Node runs what the script
 * imports as built (dist/, so `pnpm build` first); Bun and Deno run the sources through the
 * `skein-source` condition, so no build is needed for them.
 */
export function launch(runtime: RuntimeName, script: string, args: readonly string[] = [], options: LaunchOptions = {}): Proc {
  switch (runtime) {
    case 'node':
      return startProcess(process.execPath, [script, ...args], QUIET);
    case 'bun':
      return startProcess(repoTool('bun'), ['--conditions', 'skein-source', script, ...args], QUIET);
    case 'deno':
      return startProcess(repoTool('deno'), ['run', ...(options.denoPermissions ?? DENO_PERMISSIONS), ...DENO_FLAGS, script, ...args], QUIET);
  }
}

/** Kills a child that is still running and waits for it to be gone. */
export async function reap(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.kill('SIGKILL');
  await p.exited;
}
