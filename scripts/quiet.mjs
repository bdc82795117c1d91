// Runs a command and shows its output only if it fails: keeps `pnpm demo` to the demo's own lines.
import { spawnSync } from 'node:child_process';

const [cmd, ...args] = process.argv.slice(2);
const r = spawnSync(cmd, args, { encoding: 'utf8', shell: false, stdio: ['ignore', 'pipe', 'pipe'] });
if (r.status !== 0) {
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  console.error(`\n${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})`);
  process.exit(r.status ?? 1);
}
