import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { describeNeeding, reap, repoTool, startProcess, suiteCerts, testTls } from '@skein/test-utils';

const fixture = fileURLToPath(new URL('./fixtures/tls-late-bind.ts', import.meta.url));

describeNeeding(['bun'], 'bun runtime: TLS before bind', () => {
  const { serverTls, clientTls } = testTls(suiteCerts());
  // As on Node and Deno: the handshake runs from accept (its timeout counts from there), and only
  // the bytes after it wait for bind.
  it('completes the handshake of an accepted connection not bound yet, and delivers its bytes at bind', async () => {
    const arg = btoa(JSON.stringify(serverTls()));
    const child = startProcess(repoTool('bun'), ['--conditions', 'skein-source', fixture, arg], { NO_COLOR: '1' });
    onTestFinished(() => reap(child));
    const port = Number((await child.waitForLine(/^listening (\d+)$/))[1]);
    const options = { host: '127.0.0.1', port, ...clientTls() };
    const sock = tls.connect(options);
    onTestFinished(() => void sock.destroy());
    const echoed = new Promise<string>((resolve, reject) => {
      sock.once('error', reject);
      sock.once('data', (d: Buffer) => resolve(d.toString()));
    });
    await new Promise<void>((resolve) => sock.once('secureConnect', resolve));
    sock.write('ping');
    // The second connection makes the fixture bind the first.
    const trigger = tls.connect(options);
    trigger.on('error', () => {});
    onTestFinished(() => void trigger.destroy());
    await child.waitForLine(/^bound$/);
    expect(await echoed).toBe('ping');
  });
});
