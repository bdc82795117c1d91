import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { describeNeeding, reap, repoTool, startProcess } from '@skein/test-utils';

/*
 * Found by a review: a TLS connect whose TCP step failed (refused, timed out) returned without
 * removing its listener from the caller's signal, so a caller that dials with one long-lived
 * signal kept a listener (and the connect's AbortController) per failed attempt while the signal
 * lived. A plain TCP connect removed its own.
 */

const fixture = fileURLToPath(new URL('./fixtures/failed-tls-connect-listeners.ts', import.meta.url));
const CONNECTS = 50;

/** A port nothing listens on: one taken, then let go. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describeNeeding(['deno'], 'deno runtime: a TLS connect that fails', () => {
  it(`leaves no listener on the caller's signal (${CONNECTS} refused TLS connects under one signal)`, async () => {
    const child = startProcess(repoTool('deno'), ['run', '--allow-net', '--conditions', 'skein-source', '--sloppy-imports', fixture, String(await closedPort()), String(CONNECTS)], { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' });
    onTestFinished(() => reap(child));
    const [, failed, listeners] = await child.waitForLine(/^done failed=(\d+) listeners=(\d+)$/, 60_000);
    expect(Number(failed)).toBe(CONNECTS);
    expect(Number(listeners)).toBe(0);
  }, 90_000);
});
