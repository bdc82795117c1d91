// Runs a command and shows its output only if it fails: keeps `pnpm demo` to the demo's own lines.
// A cold build takes tens of seconds, so while it runs, the packages lerna builds are counted on
// stderr ("building 3/9 @skein/stream"): one rewritten line on a terminal, one line each elsewhere.
import { spawn } from 'node:child_process';

const [cmd, ...args] = process.argv.slice(2);
const tty = process.stderr.isTTY === true;
let output = '';
let partial = '';
let total = 0;
let done = 0;
let shown = false;

/** Lerna (powered by Nx) announces the task count, then one `> project:target` line per task. */
function progress(line) {
  const count = /Running target \S+ for (\d+) project/.exec(line);
  if (count) total = Number(count[1]);
  const task = /^> (\S+):(\S+)(\s+\[[^\]]*cache\])?\s*$/.exec(line);
  if (!task) return;
  done++;
  const text = `building ${done}/${total || '?'} ${task[1]}${task[3] ? ' (cached)' : ''}`;
  process.stderr.write(tty ? `\r\x1b[K${text}` : `${text}\n`);
  shown = true;
}

function take(chunk) {
  const text = chunk.toString('utf8');
  output += text;
  const lines = (partial + text).split('\n');
  partial = lines.pop() ?? '';
  for (const line of lines) progress(line);
}

const child = spawn(cmd, args, { shell: false, stdio: ['ignore', 'pipe', 'pipe'] });
child.stdout.on('data', take);
child.stderr.on('data', (chunk) => (output += chunk.toString('utf8')));
child.on('error', (err) => finish(null, err));
child.on('close', (code) => finish(code));

function finish(code, err) {
  if (shown && tty) process.stderr.write('\r\x1b[K');
  if (code === 0) return;
  process.stdout.write(output);
  console.error(`\n${cmd} ${args.join(' ')} failed (${err?.message ?? `exit ${code}`})`);
  process.exit(code ?? 1);
}
