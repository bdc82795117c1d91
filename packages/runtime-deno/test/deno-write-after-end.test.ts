import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { describeNeeding, reap, repoTool, startProcess } from '@skein/test-utils';

const runtimeModule = fileURLToPath(new URL('../src/index.ts', import.meta.url));
// The fixture serves Bun and Deno alike; it lives with runtime-bun's tests.
const fixture = fileURLToPath(new URL('../../runtime-bun/test/fixtures/write-after-end.ts', import.meta.url));

describeNeeding(['deno'], 'deno runtime: writes after end', () => {
  it('drops a write after end() or close() and returns true (no drain will come), as on Node', async () => {
    const server = net.createServer({ allowHalfOpen: true }, (s) => s.resume().on('end', () => s.end()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => void server.close());
    const child = startProcess(repoTool('deno'), ['run', '--allow-net', '--allow-read', '--sloppy-imports', fixture, runtimeModule, 'deno', String((server.address() as net.AddressInfo).port)], { NO_COLOR: '1' });
    onTestFinished(() => reap(child));
    expect((await child.waitForLine(/^after-end=(\w+)$/))[1]).toBe('true');
    expect((await child.waitForLine(/^after-close=(\w+)$/))[1]).toBe('true');
  });
});
