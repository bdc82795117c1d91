import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { basename, delimiter } from 'node:path';
import { repoTool } from '@skein/test-utils';
import { ROOT } from './public-packages.js';

/** Only so that a hung install or app fails the test instead of the run. */
const STEP_MS = 120_000;

/**
 * The test's timeout: every step's timeout summed (the Bun block, the deno.json, `deno run` and
 * `deno check`, though the last two run at once), so that a hung step is ended by its own
 * timeout, which kills its processes and says which step it was, before vitest gives up.
 */
export const BUN_DENO_MS = 4 * STEP_MS;

/**
 * The commands of docs/getting-started.md's "On Bun and Deno", read from the page itself so that
 * the test runs what a user pastes: a step changed on the page is a step changed in the test.
 */
interface BunDenoSteps {
  /** Folders to pack: §1's `pnpm pack` loop and the runtimes the section adds. */
  packs: string[];
  /** The Bun bullet's shell block, run from the checkout (its paths: ../skein/tarballs, ../my-app). */
  bun: string;
  /** The Deno bullet's commands, each run in the app's folder: the setting for a `bun init` folder, the run and the check. */
  denoSettings: string;
  denoRun: string;
  denoCheck: string;
}

const PAGE = 'docs/getting-started.md';

/** Packed besides §1's loop: the section's first sentence names them (`@skein/runtime` and the runtimes it depends on). */
const RUNTIMES = ['runtime', 'runtime-bun', 'runtime-deno', 'runtime-node'];

/** The text of `doc` from the line starting with `from` to the next line starting with `to` (or the end). */
function between(doc: string, from: string, to: string): string {
  const start = doc.indexOf(`\n${from}`);
  if (start === -1) throw new Error(`${PAGE} has no line starting ${JSON.stringify(from)}`);
  const end = doc.indexOf(`\n${to}`, start + 1);
  return doc.slice(start, end === -1 ? undefined : end);
}

/** The one match of `re` in `text`, its first group, or an error naming what the page lost. */
function one(text: string, re: RegExp, what: string): string {
  const m = re.exec(text);
  if (!m?.[1]) throw new Error(`${PAGE} no longer shows ${what}`);
  return m[1];
}

/** Inline code spans of a bullet, with the line breaks of the page's wrapping made spaces. */
function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\s*\n\s*/g, ' '));
}

/**
 * The list item of `text` whose line starts with `start`: that line and those after it that are
 * blank or indented (its block and wrapped lines), up to the next line that is neither (another
 * item, a paragraph, a heading), so that nothing after the item is read as one of its commands.
 */
function bullet(text: string, start: string): string {
  const lines = text.split('\n');
  const first = lines.findIndex((line) => line.startsWith(start));
  if (first === -1) throw new Error(`${PAGE} has no line starting ${JSON.stringify(start)}`);
  const next = lines.findIndex((line, i) => i > first && line.trim() !== '' && !/^\s/.test(line));
  return lines.slice(first, next === -1 ? undefined : next).join('\n');
}

function span(spans: string[], test: (s: string) => boolean, what: string): string {
  const found = spans.find(test);
  if (!found) throw new Error(`${PAGE}'s Deno bullet no longer shows ${what}`);
  return found;
}

/** The page's steps, read now. */
function bunDenoSteps(): BunDenoSteps {
  // A checkout with CRLF line endings: the Bun block is run by sh, which takes a CR as part of a word.
  const doc = readFileSync(`${ROOT}${PAGE}`, 'utf8').replace(/\r\n/g, '\n');
  const install = between(doc, '## 1.', '## ');
  const loop = one(install, /for p in ([\w -]+); do \(cd packages\/\$p && pnpm pack/, "§1's pnpm pack loop");
  const section = between(doc, '### On Bun and Deno', '## ');
  // The block is indented under its bullet: its lines lose the bullet's two spaces.
  const block = one(bullet(section, '- **Bun**'), /```(?:sh|shell|bash)[ \t]*\n([\s\S]*?)\n[ \t]*```/, "the Bun bullet's shell block");
  const deno = codeSpans(bullet(section, '- **Deno**'));
  return {
    packs: [...new Set([...loop.trim().split(/\s+/), ...RUNTIMES])].sort(),
    bun: block.replace(/^ {2}/gm, ''),
    denoSettings: span(deno, (s) => s.endsWith('> deno.json'), 'the deno.json for a bun init folder'),
    denoRun: span(deno, (s) => s.startsWith('deno run '), '`deno run …`'),
    denoCheck: span(deno, (s) => s.startsWith('deno check '), '`deno check …`'),
  };
}

/** What the steps printed: the Bun block's (its last line is the app's) and `deno run`'s stdout; `deno check`'s words, '' when it passed. */
export interface BunDenoOutputs {
  bun: string;
  denoRun: string;
  denoCheck: string;
}

/**
 * Follows the page's Bun and Deno steps in `work`, laid out as the page has it: the checkout's
 * `skein/tarballs/` (only the tarballs it says to pack, from `tarballs` by folder: the Bun block
 * installs every *.tgz there) beside `my-app/`, which holds `app` before the block runs (its
 * `mkdir -p` and `bun init` keep it; the block ends by running it). A failing step throws with
 * its command and output, except `deno check`, whose words are returned. Call it in a test whose
 * timeout is at least BUN_DENO_MS: each step is killed at its own timeout, and a step still running
 * when this returns or throws is killed then (not at the test's end: the test may run beside
 * others, concurrent, whose ends are not its own).
 */
export async function followBunDenoSteps(work: string, tarballs: ReadonlyMap<string, string>, app: URL): Promise<BunDenoOutputs> {
  const running = new Set<ChildProcess>();
  try {
    return await bunDenoStepsIn(work, tarballs, app, running);
  } finally {
    running.forEach(killGroup);
  }
}

async function bunDenoStepsIn(work: string, tarballs: ReadonlyMap<string, string>, app: URL, running: Set<ChildProcess>): Promise<BunDenoOutputs> {
  const steps = bunDenoSteps();
  const env = userShell(work);
  const sh = (script: string, cwd: string): Promise<string> => shStep(script, cwd, env, running);
  mkdirSync(`${work}/skein/tarballs`, { recursive: true });
  for (const dir of steps.packs) {
    const file = tarballs.get(dir);
    if (!file) throw new Error(`${PAGE} says to pack ${dir}, which is no public package`);
    copyFileSync(file, `${work}/skein/tarballs/${basename(file)}`);
  }
  cpSync(app, `${work}/my-app`, { recursive: true });
  const bun = await sh(steps.bun, `${work}/skein`);
  // Deno reads the node_modules Bun filled; its run and its check are independent of each other.
  const where = `${work}/my-app`;
  await sh(steps.denoSettings, where);
  // Both awaited to their end, whatever the other does: nothing left running, both outcomes told.
  const [run, check] = await Promise.allSettled([sh(steps.denoRun, where), sh(steps.denoCheck, where)]);
  const denoCheck = check.status === 'fulfilled' ? '' : stepWords(check.reason);
  if (run.status === 'rejected') throw new Error(`${stepWords(run.reason)}\n(deno check: ${denoCheck || 'passed'})`);
  return { bun, denoRun: run.value, denoCheck };
}

/** What a failed step said: its command and output (shStep's error), or the error itself. */
function stepWords(e: unknown): string {
  const { stdout, stderr } = e as { stdout?: string; stderr?: string };
  const what = e instanceof Error ? e.message : String(e);
  return stdout === undefined ? what : `${what}\n${stdout}${stderr ?? ''}`;
}

/**
 * A user's shell in `work`, its environment returned: `bun` and `deno` on PATH are the
 * repository's (repoTool: .tools/, where CI installs them), linked by those names into `work/bin`
 * (repoTool gives Bun's native `bun.exe`); nothing of this run's vitest or Node options. Deno's
 * cache is in `work` (DENO_DIR), removed with it: the user's ~/.cache/deno would keep an entry
 * for every run's scratch folder. Bun's stays the user's global one, which keeps each run's
 * tarballs (about 1 to 5 MB a run; `bun pm cache rm` clears it): a cache in `work` would fetch
 * the registry packages (`typescript`, `@types/bun`, `ws`, ...) again every run, which took this
 * test from 7 to 9 s to 12 to 15 s here, and the test run is near its time limit.
 */
function userShell(work: string): NodeJS.ProcessEnv {
  const bin = `${work}/bin`;
  mkdirSync(bin, { recursive: true });
  symlinkSync(repoTool('bun'), `${bin}/bun`);
  symlinkSync(repoTool('deno'), `${bin}/deno`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS'));
  return { ...env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DENO_DIR: `${work}/deno-dir` };
}

/**
 * Runs the page's `script` with sh -e (a failing step stops there, as it would for a user); its
 * stdout, or an error with its command and output. The step is a process group of its own, killed
 * whole once sh ends, fails or times out (and by the caller's onTestFinished while in `running`):
 * killing sh alone would leave what it started (dash does not exec its last command, and the
 * page's last commands start the app's server) running after the test.
 */
function shStep(script: string, cwd: string, env: NodeJS.ProcessEnv, running: Set<ChildProcess>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-ec', script], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, STEP_MS);
    // Once sh is gone, whatever of its group is left (holding its pipes open) goes too.
    child.on('exit', () => killGroup(child));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      if (code === 0 && !timedOut) return resolve(stdout);
      const how = timedOut ? `timed out after ${STEP_MS} ms` : `failed (${signal ?? `exit ${code}`})`;
      reject(Object.assign(new Error(`sh -ec ${JSON.stringify(script)} ${how}`), { stdout, stderr }));
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      running.delete(child);
      reject(e);
    });
  });
}

/** Kills every process of `child`'s group (it leads one: spawned detached); none left is no error. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}
