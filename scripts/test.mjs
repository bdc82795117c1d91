// `pnpm test` after the build: the typecheck (each package's `typecheck`, tsc over every package's
// sources and tests) and the tests (`vitest run`) at once, not one after the other. Most test
// files wait on real things (etcd, child runtimes, timers) more than they compute, so tsc's minute
// of CPU fits beside them; the run fails if either fails. Vitest's output is shown as it comes;
// the typecheck's is held and shown after it, in full when it failed.
import { spawn } from 'node:child_process';

/** Runs a command; resolves with its exit code (and its output, when `hold` is set). */
function run(cmd, args, hold) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: hold ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    let output = '';
    if (hold) {
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
    }
    child.on('error', (err) => resolve({ code: 1, output: `${output}\n${cmd}: ${err.message}\n` }));
    child.on('close', (code, signal) => resolve({ code: code ?? 1, output, signal }));
  });
}

const extra = process.argv.slice(2);
const [typecheck, tests] = await Promise.all([
  // Each package's own `typecheck` (tsc), not `lerna run typecheck`: that runs the typecheck's
  // `^build` first (nx.json), and a build read from the cache has its dist/ deleted and copied
  // back from there without the Nx daemon (as on CI), while the tests' child processes (fixtures,
  // the CLI, Bun and Deno) import it (ERR_MODULE_NOT_FOUND). The build just ran: what the
  // typecheck reads of it is there. (Nx itself is lerna's, not on a fresh install's PATH.)
  // --no-bail: every package's errors are shown, as `lerna run` showed them; pnpm -r would otherwise stop
  // at the first package that fails, killing the others' tsc under way.
  run('pnpm', ['-r', '--no-sort', '--no-bail', '--workspace-concurrency=2', '--reporter=append-only', 'run', 'typecheck'], true),
  run('pnpm', ['exec', 'vitest', 'run', ...extra], false),
]);

if (typecheck.code === 0) {
  const projects = typecheck.output.match(/ typecheck\$ /g)?.length ?? 0;
  console.log(`\ntypecheck: ${projects} projects passed`);
} else {
  process.stdout.write(`\n${typecheck.output}\n`);
  console.error(`typecheck failed (exit ${typecheck.code})`);
}
process.exit(typecheck.code !== 0 ? typecheck.code : tests.code);
