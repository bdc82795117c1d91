import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { describeNeeding, reap, repoTool, startProcess, suiteCerts, testTls } from '@skein/test-utils';

const fixture = fileURLToPath(new URL('./fixtures/reload-then-close.ts', import.meta.url));
const stalledFixture = fileURLToPath(new URL('./fixtures/stalled-handshake-close.ts', import.meta.url));

describeNeeding(['deno'], 'deno runtime: listener', () => {
  const { serverTls } = testTls(suiteCerts());
  it('close() during reloadTls leaves no listener behind: both settle and the port refuses', async () => {
    const tls = btoa(JSON.stringify(serverTls()));
    const child = startProcess(repoTool('deno'), ['run', '--allow-net', '--sloppy-imports', fixture, tls], { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' });
    onTestFinished(() => reap(child));
    const [, close] = await child.waitForLine(/^reload=\w+ close=(\w+)$/);
    expect(close).toBe('fulfilled');
    const [, connect] = await child.waitForLine(/^connect=(\S+)$/);
    expect(connect).toBe('Unreachable');
  });

  it('holds a connection whose TLS handshake timed out (Deno keeps its socket) until the listener closes, which reports it closed then: no close waits for silent peers', async () => {
    const tls = btoa(JSON.stringify(serverTls()));
    const child = startProcess(repoTool('deno'), ['run', '--allow-net', '--sloppy-imports', stalledFixture, tls], { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' });
    onTestFinished(() => reap(child));
    const [, port] = await child.waitForLine(/^port (\d+)$/);
    const silent = net.connect({ host: '127.0.0.1', port: Number(port) });
    silent.on('error', () => {});
    onTestFinished(() => void silent.destroy());
    // A second past handshakeTimeoutMs (200 ms), the peer silent: still open, so still counted.
    await child.waitForLine(/^held closed=false$/);
    await child.waitForLine(/^listener-closed$/);
    const closes = child.lines.filter((l) => l.startsWith('conn-closed'));
    expect(closes).toEqual(['conn-closed TLS handshake not done within 200 ms']);
    expect(child.lines.indexOf(closes[0]!)).toBeLessThan(child.lines.indexOf('listener-closed'));
  });
});
