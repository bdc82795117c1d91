import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { describeNeeding, reap, repoTool, startProcess } from '@skein/test-utils';

const fixture = fileURLToPath(new URL('./fixtures/idle-memory.ts', import.meta.url));
// Under a 1024-descriptor soft limit, with the test runner's own.
const CONNECTIONS = 800;

describeNeeding(['deno'], 'deno runtime: idle connections', () => {
  it(`holds under 16 KiB per idle connection that has read a byte (${CONNECTIONS} connections)`, async () => {
    const child = startProcess(repoTool('deno'), ['run', '--allow-net', '--sloppy-imports', '--v8-flags=--expose-gc', fixture, String(CONNECTIONS)], { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' });
    onTestFinished(() => reap(child));
    const port = Number((await child.waitForLine(/^listening (\d+)$/))[1]);
    const baseline = Number((await child.waitForLine(/^baseline (\d+)$/))[1]);
    const sockets: net.Socket[] = [];
    onTestFinished(() => sockets.forEach((s) => s.destroy()));
    for (let i = 0; i < CONNECTIONS; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      sockets.push(s);
      await new Promise((resolve) => s.once('connect', resolve));
      s.write('x');
    }
    const idle = Number((await child.waitForLine(/^idle (\d+)$/, 60_000))[1]);
    const perConnection = (idle - baseline) / CONNECTIONS;
    // A 64 KiB receive region each was ~69 KB per connection; a 4 KiB one is ~7.6 KB.
    expect(perConnection).toBeLessThan(16 * 1024);
  }, 90_000);
});
