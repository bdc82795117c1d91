import { itNeeding, launch, within } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runtime } from '../src/node.js';

const which = fileURLToPath(new URL('./fixtures/which.ts', import.meta.url));

async function nameUnder(runtime: 'bun' | 'deno'): Promise<string> {
  const p = launch(runtime, which);
  const [, name] = await within(p.waitForLine(/runtime=(\w+)/), 30_000);
  return name!;
}

describe('@skein/runtime picks the adapter by exports condition', () => {
  it('is the Node runtime on Node', () => {
    expect(runtime.name).toBe('node');
  });

  itNeeding(['bun'], 'is the Bun runtime on Bun', async () => {
    expect(await nameUnder('bun')).toBe('bun');
  });

  itNeeding(['deno'], 'is the Deno runtime on Deno', async () => {
    expect(await nameUnder('deno')).toBe('deno');
  });
});
