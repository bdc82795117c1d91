import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { describeNeeding, muteServer, reap, repoTool, startProcess } from '@skein/test-utils';

const fixture = fileURLToPath(new URL('./fixtures/connect-abort-race.ts', import.meta.url));
/** Enough that some aborts land as their connect completes (22 to 71 of 1,500 were left open before). */
const CONNECTS = 1_500;

describeNeeding(['deno'], 'deno runtime: connect aborted', () => {
  it(`closes the socket of every connect aborted as it completes (${CONNECTS} connects aborted 0-2 ms in), while the process lives`, async () => {
    const server = await muteServer();
    const child = startProcess(repoTool('deno'), ['run', '--allow-net', '--conditions', 'skein-source', '--sloppy-imports', fixture, server.address.split(':')[1]!, String(CONNECTS)], { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' });
    onTestFinished(() => reap(child));
    const [, connected] = await child.waitForLine(/^done connected=(\d+) cancelled=(\d+)$/, 60_000);
    // Accepts may trail the child's line: wait for those of the connects that resolved at least.
    await server.acceptedAtLeast(Number(connected));
    // Each socket the server accepted closes (bounded, 20 s), and not because the process left.
    await server.allClosed();
    expect([child.child.exitCode, child.child.signalCode]).toEqual([null, null]);
  }, 90_000);
});
