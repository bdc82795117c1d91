import { itNeeding, reap, repoTool, startProcess, within } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Plain JavaScript, run with no `skein-source` condition: the map a user's install resolves, to
// dist/ (`pnpm --filter @skein/runtime... build` first).
const which = fileURLToPath(new URL('./fixtures/which-published.mjs', import.meta.url));

async function nameOf(cmd: string, args: string[]): Promise<string> {
  const p = startProcess(cmd, [...args, which]);
  try {
    const [, name] = await within(p.waitForLine(/runtime=(\w+)/), 30_000);
    return name!;
  } finally {
    await reap(p);
  }
}

describe("@skein/runtime's published exports pick the adapter", () => {
  it('node → the Node runtime', async () => {
    expect(await nameOf(process.execPath, [])).toBe('node');
  });

  itNeeding(['bun'], 'bun → the Bun runtime', async () => {
    expect(await nameOf(repoTool('bun'), [])).toBe('bun');
  });

  itNeeding(['deno'], 'deno → the Deno runtime', async () => {
    expect(await nameOf(repoTool('deno'), ['run', '--allow-read', '--allow-env'])).toBe('deno');
  });
});
