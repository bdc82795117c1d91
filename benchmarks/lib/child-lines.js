import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);

/**
 * Starts `benchmarks/<role>s/<system>.js` in its own Node process with `params` as its one
 * argument, and hands each stdout line that starts with an upper-case word (`READY`, `USAGE`,
 * `MARK`, `RESULT`) to `onLine(word, rest)`. Anything else a library prints is passed through
 * to stderr, so it is seen but never parsed. With `params.cpu` set, the process runs pinned
 * to that CPU (`taskset` execs node, so the pid stays the node process's).
 */
export function spawnChild(role, system, params, { nodeFlags = [], onLine }) {
  const file = fileURLToPath(new URL(`${role}s/${system}.js`, root));
  const node = [process.execPath, ...nodeFlags, file, JSON.stringify(params)];
  const [command, ...args] = params.cpu === undefined ? node : ['taskset', '-c', String(params.cpu), ...node];
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const m = /^([A-Z]+) ?(.*)$/.exec(line);
    if (m) onLine(m[1], m[2]);
    else process.stderr.write(`[${role} ${system}] ${line}\n`);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited };
}
