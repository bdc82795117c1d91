import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { publicPackages, ROOT } from './public-packages.js';

const run = promisify(execFile);

/** Only so that a hung tsc fails the test instead of the run. */
const TSC_MS = 120_000;

/**
 * A Node project as tsc's defaults and a server's lib have it: every .d.ts it reaches is checked
 * (`skipLibCheck: false`) and there is no DOM (`lib: ["ES2022"]`, Node's types only). A published
 * .d.ts that reaches a DOM-only name (a dependency's `BufferSource`, say) fails it with TS2304,
 * though the user's code is fine.
 */
const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    lib: ['ES2022'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    types: ['node'],
  },
  files: ['main.ts'],
};

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A project outside the workspace whose node_modules links each public package (its dist/ types, no source condition) and @types/node. */
function project(): string {
  const dir = mkdtempSync(`${tmpdir()}/skein-types-no-dom-`);
  dirs.push(dir);
  mkdirSync(`${dir}/node_modules/@skein`, { recursive: true });
  mkdirSync(`${dir}/node_modules/@types`, { recursive: true });
  symlinkSync(`${ROOT}node_modules/@types/node`, `${dir}/node_modules/@types/node`, 'dir');
  const lines = publicPackages().map(({ dir: d, path, json }, i) => {
    symlinkSync(path, `${dir}/node_modules/@skein/${d}`, 'dir');
    return `export * as p${i} from '${json.name}';`;
  });
  writeFileSync(`${dir}/main.ts`, `${lines.join('\n')}\n`);
  writeFileSync(`${dir}/package.json`, JSON.stringify({ name: 'skein-user', private: true, type: 'module' }));
  writeFileSync(`${dir}/tsconfig.json`, JSON.stringify(TSCONFIG, null, 2));
  return dir;
}

describe('published types in a Node project without DOM, with skipLibCheck false', () => {
  it('every public package entry type-checks, with every .d.ts it reaches', async () => {
    const dir = project();
    const tsc = `${ROOT}node_modules/typescript/bin/tsc`;
    // tsc exits 2 with its diagnostics on stdout; those lines are what the test shows.
    const out = await run(process.execPath, [tsc, '-p', `${dir}/tsconfig.json`, '--pretty', 'false'], { cwd: dir, timeout: TSC_MS }).then(
      (r) => r.stdout,
      (e: { stdout?: string }) => e.stdout ?? String(e),
    );
    expect(out.split('\n').filter(Boolean)).toEqual([]);
  }, TSC_MS);
});
