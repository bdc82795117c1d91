import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { basename, delimiter } from 'node:path';
import { promisify } from 'node:util';
import { repoTool } from '@skein/test-utils';
import { ROOT } from './public-packages.js';

const run = promisify(execFile);

/** Only so that a hung install or app fails the test instead of the run. */
const STEP_MS = 120_000;

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

function span(spans: string[], test: (s: string) => boolean, what: string): string {
  const found = spans.find(test);
  if (!found) throw new Error(`${PAGE}'s Deno bullet no longer shows ${what}`);
  return found;
}

/** The page's steps, read now. */
function bunDenoSteps(): BunDenoSteps {
  const doc = readFileSync(`${ROOT}${PAGE}`, 'utf8');
  const install = between(doc, '## 1.', '## ');
  const loop = one(install, /for p in ([\w -]+); do \(cd packages\/\$p && pnpm pack/, "§1's pnpm pack loop");
  const section = between(doc, '### On Bun and Deno', '## ');
  const bunBullet = between(section, '- **Bun**', '- **Deno**');
  // The block is indented under its bullet: its lines lose the bullet's two spaces.
  const block = one(bunBullet, /```sh\n([\s\S]*?)\n\s*```/, "the Bun bullet's sh block");
  const deno = codeSpans(between(section, '- **Deno**', '## '));
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
 * its command and output, except `deno check`, whose words are returned.
 */
export async function followBunDenoSteps(work: string, tarballs: ReadonlyMap<string, string>, app: URL): Promise<BunDenoOutputs> {
  const steps = bunDenoSteps();
  const env = userShell(`${work}/bin`);
  mkdirSync(`${work}/skein/tarballs`, { recursive: true });
  for (const dir of steps.packs) {
    const file = tarballs.get(dir);
    if (!file) throw new Error(`${PAGE} says to pack ${dir}, which is no public package`);
    copyFileSync(file, `${work}/skein/tarballs/${basename(file)}`);
  }
  cpSync(app, `${work}/my-app`, { recursive: true });
  const bun = await sh(steps.bun, `${work}/skein`, env);
  // Deno reads the node_modules Bun filled; its run and its check are independent of each other.
  const where = `${work}/my-app`;
  await sh(steps.denoSettings, where, env);
  const [denoRun, denoCheck] = await Promise.all([
    sh(steps.denoRun, where, env),
    sh(steps.denoCheck, where, env).then(
      () => '',
      (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? String(e)}`,
    ),
  ]);
  return { bun, denoRun, denoCheck };
}

/**
 * A user's shell, its environment returned: `bun` and `deno` on PATH are the repository's
 * (repoTool: .tools/, where CI installs them), linked by those names into `bin` (repoTool gives
 * Bun's native `bun.exe`); nothing of this run's vitest or Node options.
 */
function userShell(bin: string): NodeJS.ProcessEnv {
  mkdirSync(bin, { recursive: true });
  symlinkSync(repoTool('bun'), `${bin}/bun`);
  symlinkSync(repoTool('deno'), `${bin}/deno`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS'));
  return { ...env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' };
}

/** Runs the page's `script` with sh -e (a failing step stops there, as it would for a user); its stdout. */
async function sh(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await run('sh', ['-ec', script], { cwd, env, timeout: STEP_MS });
  return stdout;
}
