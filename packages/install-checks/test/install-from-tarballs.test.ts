import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { itNeeding } from '@skein/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUN_DENO_MS, followBunDenoSteps } from './getting-started-bun-deno.js';
import { publicPackages, ROOT, type PublicPackage } from './public-packages.js';

const run = promisify(execFile);

/** The packages a server-and-client app over TCP and WebSocket needs: no more are installed. */
const APP_NEEDS = ['api', 'codec-msgpack', 'core', 'runtime-node', 'stream', 'transport-tcp', 'transport-ws'];

/** What a third-party transport's tests need: the suite and the packages its server and clients use. */
const SUITE_NEEDS = ['api', 'codec-msgpack', 'conformance', 'core', 'runtime', 'runtime-bun', 'runtime-deno', 'runtime-node', 'stream'];

/** Only so that a hung install or app fails the test instead of the run. */
const STEP_MS = 120_000;

const rootJson = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { devDependencies: Record<string, string> };

/** A folder outside the workspace with a package.json of `dependencies` on tarballs (and registry packages), npm-installed. */
async function npmProject(dir: string, tarballs: Map<string, string>, needs: string[], registry: Record<string, string>): Promise<void> {
  const dependencies = Object.fromEntries(needs.map((d) => [`@skein/${d}`, `file:${tarballs.get(d)}`]));
  writeFileSync(`${dir}/package.json`, JSON.stringify({ name: 'skein-user', private: true, type: 'module', dependencies, devDependencies: registry }, null, 2));
  // Plain npm, as a user outside this repository has it: third-party packages from the registry.
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, timeout: STEP_MS });
}

/**
 * Packs every package with `pnpm pack` (as `changeset publish` would), in one pnpm run over the
 * workspace (`-r`, filtered to them): a pnpm process per package cost a second or more each of
 * start-up alone. Returns tarball paths by folder.
 */
async function packAll(pkgs: PublicPackage[], into: string): Promise<Map<string, string>> {
  const filters = pkgs.flatMap((p) => ['--filter', p.json.name]);
  const { stdout } = await run('pnpm', ['-r', ...filters, 'pack', '--pack-destination', into, '--json'], { cwd: ROOT, timeout: STEP_MS, maxBuffer: 64 << 20 });
  const packed = JSON.parse(stdout) as { name: string; filename: string }[];
  const tarballs = new Map(packed.map((t) => [pkgs.find((p) => p.json.name === t.name)?.dir ?? t.name, t.filename]));
  // Each package packed once, and nothing else.
  expect([...tarballs.keys()].sort()).toEqual(pkgs.map((p) => p.dir).sort());
  return tarballs;
}

/** Runs the vitest a user's project installed, on `filter` (its test folder), outside this run's environment; its test counts. */
async function userVitest(dir: string, filter: string): Promise<{ passed: number; total: number }> {
  // The user's own vitest, not this one: nothing of the outer run's environment leaks in.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS'));
  const { stdout } = await run(process.execPath, [`${dir}/node_modules/vitest/vitest.mjs`, 'run', filter], { cwd: dir, timeout: STEP_MS, env: { ...env, NO_COLOR: '1' } });
  const [, passed, total] = /Tests\s+(\d+) passed \((\d+)\)/.exec(stdout) ?? [];
  return { passed: Number(passed), total: Number(total) };
}

async function listTarball(file: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-tzf', file]);
  return stdout.split('\n').filter(Boolean).map((l) => l.replace(/^package\//, ''));
}

async function packedJson(file: string): Promise<Record<string, unknown>> {
  const { stdout } = await run('tar', ['-xzOf', file, 'package/package.json']);
  return JSON.parse(stdout) as Record<string, unknown>;
}

// Concurrent: each test has folders of its own, and most of each is waiting on npm, Bun or a
// child's start-up, so they overlap (the two that run the suite's vitest take turns).
describe('installed from packed tarballs, outside the workspace, with plain npm (or Bun, as the docs say)', { concurrent: true }, () => {
  const pkgs = publicPackages();
  const work = mkdtempSync(`${tmpdir()}/skein-install-`);
  const app = `${work}/app`;
  let tarballs = new Map<string, string>();
  /**
   * One third party's project of the suite's packages (SUITE_NEEDS and vitest), installed once for
   * both suite tests, each of which runs its own test folder in it: the same install twice took
   * as long again. Begun as the tarballs are packed, so that it overlaps the app's install and run.
   */
  const suite = `${work}/suite-user`;
  let suiteInstalled: Promise<void> = Promise.resolve();
  /** The suite's vitest runs one at a time: two at once in one project would share its cache folder. */
  let suiteTurn: Promise<unknown> = Promise.resolve();
  const inSuiteTurn = <T>(run: () => Promise<T>): Promise<T> => {
    const ran = suiteTurn.then(run);
    suiteTurn = ran.catch(() => {});
    return ran;
  };

  beforeAll(async () => {
    // The tarballs ship dist/: built by `pnpm test` (lerna run build) before the tests run.
    const unbuilt = pkgs.filter((p) => !existsSync(`${p.path}/dist`)).map((p) => p.json.name);
    if (unbuilt.length > 0) throw new Error(`build first (pnpm build): no dist/ in ${unbuilt.join(', ')}`);
    mkdirSync(`${work}/tarballs`);
    tarballs = await packAll(pkgs, `${work}/tarballs`);
    mkdirSync(suite);
    suiteInstalled = npmProject(suite, tarballs, SUITE_NEEDS, { vitest: rootJson.devDependencies.vitest! });
    // Awaited by the tests that use it (its failure is theirs); not left unhandled meanwhile.
    suiteInstalled.catch(() => {});
  }, STEP_MS);

  // The install may still run if a test before it failed: the folder goes once it is done.
  afterAll(async () => {
    await suiteInstalled.catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }, STEP_MS);

  it('every public package packs its entry points, declarations and README, with no workspace: ranges', async () => {
    const problems: { name: string; missing: string[]; workspaceRanges: boolean }[] = [];
    for (const p of pkgs) {
      const file = tarballs.get(p.dir)!;
      const files = await listTarball(file);
      const json = await packedJson(file);
      const entries = [json.main, json.types].map((f) => String(f).replace(/^\.\//, ''));
      const missing = [...entries, 'README.md', 'package.json'].filter((f) => !files.includes(f));
      const workspaceRanges = JSON.stringify([json.dependencies, json.peerDependencies, json.optionalDependencies]).includes('workspace:');
      if (missing.length > 0 || workspaceRanges) problems.push({ name: p.json.name, missing, workspaceRanges });
    }
    expect(problems).toEqual([]);
  }, STEP_MS);

  it('an app of only the tarballs it needs type-checks in strict mode and runs a server and a client over TCP and WS', async () => {
    mkdirSync(app);
    cpSync(new URL('../fixtures/app/', import.meta.url), app, { recursive: true });
    await npmProject(app, tarballs, APP_NEEDS, { typescript: rootJson.devDependencies.typescript!, '@types/node': rootJson.devDependencies['@types/node']! });
    expect(readdirSync(`${app}/node_modules/@skein`).sort()).toEqual([...APP_NEEDS].sort());

    const tsc = await run(process.execPath, [`${app}/node_modules/typescript/bin/tsc`, '-p', app], { cwd: app }).then(
      () => '',
      (e: { stdout?: string }) => e.stdout ?? String(e),
    );
    expect(tsc).toBe('');

    const { stdout } = await run(process.execPath, [`${app}/dist/main.js`], { cwd: app, timeout: STEP_MS });
    expect(stdout.trim().split('\n')).toEqual(['tcp add=3 div=DivideByZero', 'ws add=3 div=DivideByZero', 'done']);
  }, STEP_MS * 2);

  // Here, not in a file of its own, to share the packed tarballs: packing them again cost ~3 s.
  itNeeding(['bun', 'deno'], `getting-started's "On Bun and Deno", its commands read from the page: Bun installs the tarballs (overrides first), the app answers on Bun and on Deno, deno check accepts it`, async () => {
    const out = await followBunDenoSteps(`${work}/bun-deno`, tarballs, new URL('../fixtures/bun-deno-app/', import.meta.url));
    // The app prints the runtime @skein/runtime picked and its one call's answer.
    expect(out.bun.trim().split('\n').at(-1)).toBe('bun add=3');
    expect(out.denoRun.trim()).toBe('deno add=3');
    expect(out.denoCheck).toBe('');
  }, BUN_DENO_MS);

  it('@skein/conformance runs against a third-party transport (the MessagePort example, copied out) with vitest', async () => {
    const dir = `${suite}/my-transport`;
    mkdirSync(dir);
    const example = new URL('../../../examples/message-port-transport/', import.meta.url);
    cpSync(new URL('src/', example), `${dir}/src`, { recursive: true });
    cpSync(new URL('test/', example), `${dir}/test`, { recursive: true });
    await suiteInstalled;
    const { passed, total } = await inSuiteTurn(() => userVitest(suite, 'my-transport/test/'));
    // Every test of the suite ran and passed: its scenarios (11 today) and the graceful close.
    expect(passed).toBe(total);
    expect(total).toBeGreaterThanOrEqual(11);
  }, STEP_MS * 2);

  it("@skein/conformance's codec suite runs against a codec outside the workspace (msgpack's tarball, as a third party's) with vitest", async () => {
    const dir = `${suite}/my-codec`;
    mkdirSync(`${dir}/test`, { recursive: true });
    // The README's call, with the codec's answers where codecs differ (packages/conformance/test/codec-msgpack.test.ts).
    writeFileSync(`${dir}/test/my-codec.test.ts`, [
      "import { codecConformance } from '@skein/conformance';",
      "import { msgpackCodec } from '@skein/codec-msgpack';",
      "codecConformance(msgpackCodec, { undefined: 'null', negativeZero: '0', smallBigInt: 'number', bigIntRange: '64-bit', map: 'Map', set: 'Set',",
      "  arrayBuffer: 'encode error', typedArrays: 'bytes', farDates: 'exact', invalidDate: 'encode error', protoKey: 'decode error', invalidBytes: [new Uint8Array([0xc1])] });",
    ].join('\n'));
    await suiteInstalled;
    const { passed, total } = await inSuiteTurn(() => userVitest(suite, 'my-codec/test/'));
    // Every test of the suite ran and passed under vitest's default 5 s timeout (100 today).
    expect(passed).toBe(total);
    expect(total).toBeGreaterThanOrEqual(100);
  }, STEP_MS * 2);
});
