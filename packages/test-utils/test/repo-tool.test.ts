import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { repoTool, toolMissing } from '../src/repo-tool.js';

const NONE = 'skein-no-such-tool';
const workspaceModules = fileURLToPath(new URL('../../../node_modules/', import.meta.url));
const ci = process.env.CI;

describe('tools the tests need (bun, deno, chromium)', () => {
  afterEach(() => {
    if (ci === undefined) delete process.env.CI;
    else process.env.CI = ci;
  });

  it('a missing tool is a skip reason that says how to install it, off CI', () => {
    delete process.env.CI;
    expect(toolMissing(NONE)).toBe(`${NONE} is not installed (run \`pnpm install-runtimes\` (bun and deno into .tools/, as CI does) or put it on PATH)`);
    expect(toolMissing('chromium') ?? '').not.toMatch(/install-runtimes/);
  });

  it('on CI a missing tool is no reason to skip: the test runs and repoTool fails it', () => {
    process.env.CI = 'true';
    expect(toolMissing(NONE)).toBeUndefined();
    expect(() => repoTool(NONE)).toThrow(`${NONE} is not installed`);
  });

  it('finds bun and deno where pnpm install-runtimes puts them, not in the workspace node_modules', () => {
    delete process.env.CI;
    for (const name of ['bun', 'deno']) {
      const why = toolMissing(name);
      if (why === undefined) expect(repoTool(name).startsWith(workspaceModules)).toBe(false);
    }
  });
});
