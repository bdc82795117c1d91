import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cEchoBinary } from './c-echo.js';

const root = new URL('../', import.meta.url);
const repo = new URL('../../', import.meta.url);

/**
 * The command that runs a benchmark script on `runtime`: Node itself, or the repository's own
 * bun and deno binaries (the npm packages `bun` and `deno` that `pnpm install-runtimes` puts in
 * .tools/, as the conformance tests use them).
 * Bun and Deno load the built packages (no `skein-source` condition), as an application would,
 * and `@skein/runtime` picks their adapter by its `bun` / `deno` exports condition. Runtime `c`
 * is the C echo's binary for the role.
 */
function runtimeCommand(runtime, nodeFlags, file, role) {
  switch (runtime) {
    case 'c':
      // The C echo (benchmarks/c/): a native binary per role, no runtime, no script.
      return [cEchoBinary(role)];
    case 'node':
      return [process.execPath, ...nodeFlags, file];
    case 'bun':
      // Bun takes Node's `--cpu-prof` flags as they are.
      return [fileURLToPath(new URL('.tools/node_modules/bun/bin/bun.exe', repo)), ...nodeFlags, file];
    case 'deno':
      return [
        fileURLToPath(new URL('.tools/node_modules/deno/deno', repo)),
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
 * `params.cpu` set, the process runs pinned to that CPU; with `params.fdLimit`, its open-file
 * limit is raised to that (the memory benchmark's 10,000 connections).
 */
export function spawnChild(role, system, params, { nodeFlags = [], onLine }) {
  const file = fileURLToPath(new URL(`${role}s/${params.script ?? system}.js`, root));
  const command = [...runtimeCommand(params.runtime ?? 'node', nodeFlags, file, role), JSON.stringify(params)];
  // `prlimit` and `taskset` exec the runtime, so the pid stays the runtime's.
  const limited = params.fdLimit === undefined ? command : ['prlimit', `--nofile=${params.fdLimit}:${params.fdLimit}`, '--', ...command];
  const [cmd, ...args] = params.cpu === undefined ? limited : ['taskset', '-c', String(params.cpu), ...limited];
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
