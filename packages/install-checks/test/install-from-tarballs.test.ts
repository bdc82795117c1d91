import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

/** Packs each package with `pnpm pack` (as `changeset publish` would), a few at a time; returns tarball paths by folder. */
async function packAll(pkgs: PublicPackage[], into: string): Promise<Map<string, string>> {
  const tarballs = new Map<string, string>();
  const queue = [...pkgs];
  const worker = async (): Promise<void> => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      const { stdout } = await run('pnpm', ['pack', '--pack-destination', into], { cwd: p.path });
      const file = stdout.trim().split('\n').pop()!.trim();
      tarballs.set(p.dir, file);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return tarballs;
}

async function listTarball(file: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-tzf', file]);
  return stdout.split('\n').filter(Boolean).map((l) => l.replace(/^package\//, ''));
}

async function packedJson(file: string): Promise<Record<string, unknown>> {
  const { stdout } = await run('tar', ['-xzOf', file, 'package/package.json']);
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('installed from packed tarballs, outside the workspace, with plain npm', () => {
  const pkgs = publicPackages();
  const work = mkdtempSync(`${tmpdir()}/skein-install-`);
  const app = `${work}/app`;
  let tarballs = new Map<string, string>();

  beforeAll(async () => {
    // The tarballs ship dist/: built by `pnpm test` (lerna run build) before the tests run.
    const unbuilt = pkgs.filter((p) => !existsSync(`${p.path}/dist`)).map((p) => p.json.name);
    if (unbuilt.length > 0) throw new Error(`build first (pnpm build): no dist/ in ${unbuilt.join(', ')}`);
    mkdirSync(`${work}/tarballs`);
    tarballs = await packAll(pkgs, `${work}/tarballs`);
  }, STEP_MS);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

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

  it('@skein/conformance runs against a third-party transport (the MessagePort example, copied out) with vitest', async () => {
    const dir = `${work}/my-transport`;
    mkdirSync(dir);
    const example = new URL('../../../examples/message-port-transport/', import.meta.url);
    cpSync(new URL('src/', example), `${dir}/src`, { recursive: true });
    cpSync(new URL('test/', example), `${dir}/test`, { recursive: true });
    await npmProject(dir, tarballs, SUITE_NEEDS, { vitest: rootJson.devDependencies.vitest! });
    // The user's own vitest, not this one: nothing of the outer run's environment leaks in.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS'));
    const { stdout } = await run(process.execPath, [`${dir}/node_modules/vitest/vitest.mjs`, 'run'], { cwd: dir, timeout: STEP_MS, env: { ...env, NO_COLOR: '1' } });
    const [, passed, total] = /Tests\s+(\d+) passed \((\d+)\)/.exec(stdout) ?? [];
    // Every test of the suite ran and passed: its scenarios (11 today) and the graceful close.
    expect(Number(passed)).toBe(Number(total));
    expect(Number(total)).toBeGreaterThanOrEqual(11);
  }, STEP_MS * 2);

  it("@skein/conformance's codec suite runs against a codec outside the workspace (msgpack's tarball, as a third party's) with vitest", async () => {
    const dir = `${work}/my-codec`;
    mkdirSync(`${dir}/test`, { recursive: true });
    // The README's call, with the codec's answers where codecs differ (packages/conformance/test/codec-msgpack.test.ts).
    writeFileSync(`${dir}/test/my-codec.test.ts`, [
      "import { codecConformance } from '@skein/conformance';",
      "import { msgpackCodec } from '@skein/codec-msgpack';",
      "codecConformance(msgpackCodec, { undefined: 'null', negativeZero: '0', smallBigInt: 'number', bigIntRange: '64-bit', map: 'Map', set: 'Set',",
      "  arrayBuffer: 'encode error', typedArrays: 'bytes', farDates: 'exact', invalidDate: 'encode error', protoKey: 'decode error', invalidBytes: [new Uint8Array([0xc1])] });",
    ].join('\n'));
    await npmProject(dir, tarballs, SUITE_NEEDS, { vitest: rootJson.devDependencies.vitest! });
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS'));
    const { stdout } = await run(process.execPath, [`${dir}/node_modules/vitest/vitest.mjs`, 'run'], { cwd: dir, timeout: STEP_MS, env: { ...env, NO_COLOR: '1' } });
    const [, passed, total] = /Tests\s+(\d+) passed \((\d+)\)/.exec(stdout) ?? [];
    // Every test of the suite ran and passed under vitest's default 5 s timeout (100 today).
    expect(Number(passed)).toBe(Number(total));
    expect(Number(total)).toBeGreaterThanOrEqual(100);
  }, STEP_MS * 2);
});
