import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const repo = new URL('../../', import.meta.url);

/**
 * The command that runs a benchmark script on `runtime`: Node itself, or the repository's own
 * bun and deno binaries (the npm packages `bun` and `deno`, as the conformance tests use them).
 * Bun and Deno load the built packages (no `skein-source` condition), as an application would,
 * and `@skein/runtime` picks their adapter by its `bun` / `deno` exports condition.
 */
function runtimeCommand(runtime, nodeFlags, file) {
  switch (runtime) {
    case 'node':
      return [process.execPath, ...nodeFlags, file];
    case 'bun':
      // Bun takes Node's `--cpu-prof` flags as they are.
      return [fileURLToPath(new URL('node_modules/bun/bin/bun.exe', repo)), ...nodeFlags, file];
    case 'deno':
      return [
        fileURLToPath(new URL('node_modules/deno/deno', repo)),
        'run',
        '--allow-net',
        '--allow-read',
        '--allow-write',
        '--allow-env',
        '--allow-sys',
        file,
      ];
    default:
      throw new Error(`unknown runtime ${JSON.stringify(runtime)}`);
  }
}

/**
 * Starts `benchmarks/<role>s/<script>.js` in its own process with `params` as its one
 * argument, and hands each stdout line that starts with an upper-case word (`READY`, `USAGE`,
 * `MARK`, `RESULT`) to `onLine(word, rest)`. Anything else a library prints is passed through
 * to stderr, so it is seen but never parsed. The script is `params.script`, else the system's
 * name; it runs on `params.runtime` (default Node; `nodeFlags` only apply there). With
 * `params.cpu` set, the process runs pinned to that CPU (`taskset` execs the runtime, so the
 * pid stays the runtime's).
 */
export function spawnChild(role, system, params, { nodeFlags = [], onLine }) {
  const file = fileURLToPath(new URL(`${role}s/${params.script ?? system}.js`, root));
  const command = [...runtimeCommand(params.runtime ?? 'node', nodeFlags, file), JSON.stringify(params)];
  const [cmd, ...args] = params.cpu === undefined ? command : ['taskset', '-c', String(params.cpu), ...command];
  // cwd: Deno finds benchmarks/package.json and its node_modules from there.
  const child = spawn(cmd, args, { cwd: fileURLToPath(root), stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, NO_COLOR: '1' } });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const m = /^([A-Z]+) ?(.*)$/.exec(line);
    if (m) onLine(m[1], m[2]);
    else process.stderr.write(`[${role} ${params.script ?? system}] ${line}\n`);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited };
}
