import { repoTool, startProcess, within } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runtime } from '../src/node.js';

const which = fileURLToPath(new URL('./fixtures/which.ts', import.meta.url));

async function nameUnder(cmd: string, args: string[]): Promise<string> {
  const p = startProcess(cmd, [...args, which], { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' });
  const [, name] = await within(p.waitForLine(/runtime=(\w+)/), 30_000);
  return name!;
}

describe('@skein/runtime picks the adapter by exports condition', () => {
  it('is the Node runtime on Node', () => {
    expect(runtime.name).toBe('node');
  });

  it('is the Bun runtime on Bun', async () => {
    expect(await nameUnder(repoTool('bun'), ['--conditions', 'skein-source'])).toBe('bun');
  });

  it('is the Deno runtime on Deno', async () => {
    const flags = ['run', '--conditions', 'skein-source', '--sloppy-imports', '--allow-read', '--allow-env', '--allow-net'];
    expect(await nameUnder(repoTool('deno'), flags)).toBe('deno');
  });
});
