import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

/**
 * A ws the package's range lets in must drop a peer that pings and never reads (ws 8.23's
 * maxPendingAutoPongs): with ws 8.22 the ws server answered every ping, its send buffer growing
 * without bound ("drops a peer that pings and never reads" in server.test.ts timed out there).
 */
it('asks for a ws that bounds the answers to pings a peer leaves unread (8.23 or later)', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
  const least = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(pkg.dependencies.ws ?? '');
  expect(least, `ws range ${pkg.dependencies.ws}`).not.toBeNull();
  const [major, minor] = [Number(least![1]), Number(least![2])];
  expect(major === 8 ? minor >= 23 : major > 8).toBe(true);
});
