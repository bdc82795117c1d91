import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const QUIET = fileURLToPath(new URL('../../../scripts/quiet.mjs', import.meta.url));

/** What `lerna run build` prints (Lerna powered by Nx, no TTY): the task count, then one line per task. */
const LERNA_LINES = [
  'lerna notice cli v9.0.7',
  ' Lerna (powered by Nx)   Running target build for 3 projects:',
  '- @skein/core',
  '> @skein/core:build  [local cache]',
  '> @skein/core@0.1.0 build /work/main/packages/core',
  '> tsc -p tsconfig.build.json',
  '> @skein/stream:build',
  '> @skein/example-calculator:build',
];

function fakeBuild(exitCode: number): string[] {
  const script = `console.log(${JSON.stringify(LERNA_LINES.join('\n'))}); process.exit(${exitCode})`;
  return [QUIET, process.execPath, '-e', script];
}

// `pnpm demo` builds through scripts/quiet.mjs: a cold build must count its packages instead of
// staying silent, and the build's own output shows only when it fails.
describe('the demo build (scripts/quiet.mjs)', () => {
  it('shows one progress line per package built, and none of the build output, when it succeeds', async () => {
    const { stdout, stderr } = await run(process.execPath, fakeBuild(0));
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual([
      'building 1/3 @skein/core (cached)',
      'building 2/3 @skein/stream',
      'building 3/3 @skein/example-calculator',
    ]);
  });

  it('prints the whole build output and exits with its code when it fails', async () => {
    const err = await run(process.execPath, fakeBuild(3)).then(
      () => undefined,
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(err?.code).toBe(3);
    expect(err?.stdout).toContain('> tsc -p tsconfig.build.json');
    expect(err?.stderr).toMatch(/failed \(exit 3\)/);
  });
});
