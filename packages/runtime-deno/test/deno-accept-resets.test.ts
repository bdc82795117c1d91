import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { describeNeeding, reap, repoTool, startProcess } from '@skein/test-utils';

const fixture = fileURLToPath(new URL('./fixtures/accept-after-resets.ts', import.meta.url));
/**
 * Connections reset before the listener accepts them. Deno's accept fails on each (NotConnected:
 * it asks a reset socket for its peer's address); a 10 ms pause per failure made these hold the
 * listener 20 s at the least, every connection behind them waiting.
 */
const RESETS = 2_000;

describeNeeding(['deno'], 'deno runtime: accept', () => {
  it(`accepts a connection queued behind ${RESETS} that reset before their accept, without waiting out a pause for each`, async () => {
    const child = startProcess(repoTool('deno'), ['run', '--allow-net', '--sloppy-imports', fixture], { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' });
    onTestFinished(() => reap(child));
    const port = Number((await child.waitForLine(/^listening (\d+)$/))[1]);
    // A safety net far under the 20 s the old pauses alone took, from the first reset: past
    // the listen backlog (511) the resets themselves wait for the listener to take them.
    const late = new Promise<false>((resolve) => setTimeout(() => resolve(false), 8_000).unref());
    expect(await Promise.race([resetsThenAccepted(port, onTestFinished), late])).toBe(true);
    expect(child.lines).toContain('accepted');
  }, 60_000);
});

/** Resets RESETS connections before their accept, then connects: true once the server closes that one (its accept did). */
async function resetsThenAccepted(port: number, cleanup: (f: () => void) => void): Promise<true> {
  for (let i = 0; i < RESETS; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    await new Promise((resolve) => s.once('connect', resolve));
    s.resetAndDestroy();
  }
  const honest = net.connect(port, '127.0.0.1');
  honest.on('error', () => {});
  cleanup(() => void honest.destroy());
  return new Promise((resolve) => honest.once('close', () => resolve(true)));
}
