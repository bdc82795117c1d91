import { fileURLToPath } from 'node:url';
import { repoTool, startProcess, type Proc } from '@skein/test-utils';

export type RuntimeName = 'node' | 'bun' | 'deno';

export const fixture = (name: 'server.mjs' | 'client.mjs'): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

// With a package.json beside the script and no deno.json, Deno resolves bare specifiers through
// node_modules (the workspace symlinks); `--sloppy-imports` lets the sources import './x.js' for
// './x.ts', as tsc wants.
const DENO_FLAGS = ['--allow-net', '--allow-read', '--allow-write', '--allow-env', '--conditions', 'skein-source', '--sloppy-imports'];
const QUIET = { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' };

/**
 * Runs a fixture on a runtime, with the real binary. Node runs the built packages (dist/, so
 * `pnpm build` first); Bun and Deno run the sources through the `skein-source` condition.
 */
export function launch(runtime: RuntimeName, script: string, args: string[]): Proc {
  switch (runtime) {
    case 'node':
      return startProcess(process.execPath, [script, ...args], QUIET);
    case 'bun':
      return startProcess(repoTool('bun'), ['--conditions', 'skein-source', script, ...args], QUIET);
    case 'deno':
      return startProcess(repoTool('deno'), ['run', ...DENO_FLAGS, script, ...args], QUIET);
  }
}

/** Kills a child that is still running and waits for it to be gone. */
export async function reap(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.kill('SIGKILL');
  await p.exited;
}
