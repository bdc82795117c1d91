import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { describeNeeding, makeTestCerts, reap, repoTool, startProcess } from '@skein/test-utils';

const fixture = fileURLToPath(new URL('./fixtures/reload-then-close.ts', import.meta.url));

describeNeeding(['deno'], 'deno runtime: listener', () => {
  it('close() during reloadTls leaves no listener behind: both settle and the port refuses', async () => {
    const certs = makeTestCerts();
    onTestFinished(() => certs.remove());
    const tls = btoa(JSON.stringify({ cert: certs.server.cert, key: certs.server.key }));
    const child = startProcess(repoTool('deno'), ['run', '--allow-net', '--sloppy-imports', fixture, tls], { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' });
    onTestFinished(() => reap(child));
    const [, close] = await child.waitForLine(/^reload=\w+ close=(\w+)$/);
    expect(close).toBe('fulfilled');
    const [, connect] = await child.waitForLine(/^connect=(\S+)$/);
    expect(connect).toBe('Unreachable');
  });
});
