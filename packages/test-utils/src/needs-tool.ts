import { describe, it } from 'vitest';
import { toolMissing } from './repo-tool.js';

/** The first reason one of `tools` is missing here (never on CI, where a missing tool must fail). */
function missingOf(tools: readonly string[]): string | undefined {
  for (const t of tools) {
    const why = toolMissing(t);
    if (why) return why;
  }
  return undefined;
}

/**
 * A describe block whose tests run `tools` (bun, deno): skipped where one is not installed, with
 * the reason in its title, so a fresh clone's `pnpm test` says what it did not cover. `options`
 * are vitest's own for the block (`concurrent`: it runs beside its concurrent siblings).
 */
export function describeNeeding(tools: readonly string[], title: string, body: () => void, options: { concurrent?: boolean; sequential?: boolean } = {}): void {
  const why = missingOf(tools);
  if (why) describe.skip(`${title} (skipped: ${why})`, options, body);
  else describe(title, options, body);
}

/** One test that runs `tools`: skipped, saying why, where one is not installed. */
export function itNeeding(tools: readonly string[], title: string, fn: () => Promise<void>, timeoutMs?: number): void {
  const why = missingOf(tools);
  if (why) it.skip(`${title} (skipped: ${why})`, fn);
  else it(title, fn, timeoutMs);
}
