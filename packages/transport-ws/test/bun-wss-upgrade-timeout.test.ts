import { afterEach, expect } from 'vitest';
import { itNeeding, launch, reap, suiteCerts, testTls, type Proc } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import { wsTransport } from '../src/index.js';
import { spec } from './helpers.js';

// Under Bun the ws server runs Bun's node:tls server over each socket it accepts (https-servers.ts):
// a wss:// connection reaches the server's accept at TCP accept, holds a slot of the server's cap
// from there, and upgradeTimeoutMs must bound its whole upgrade (the hook included), as on Node.
const certs = suiteCerts();
const { serverTls, clientTls } = testTls(certs);
const fixture = fileURLToPath(new URL('./fixtures/stalled-hook-wss-server.mjs', import.meta.url));
let server: Proc | undefined;
afterEach(() => reap(server));

itNeeding(['bun'], 'a Bun wss:// server closes a connection whose upgrade hook never settles at upgradeTimeoutMs (Timeout), not never', async () => {
  server = launch('bun', fixture, [JSON.stringify(serverTls())]);
  const port = Number((await server.waitForLine(/^listening (\d+)/))[1]);
  const connecting = wsTransport({ tls: clientTls() }).connect({ host: '127.0.0.1', port, tls: true }, spec, { timeoutMs: 20_000 });
  connecting.then((c) => c.close(), () => {});
  await server.waitForLine(/^accepted$/);
  // Waited for with the line helper's own bound: Bun's idle timeout would close it too, later
  // and without the reason, so what decides is the reason, not when.
  const [, reason] = await server.waitForLine(/^closed (.*)$/, 20_000);
  expect(reason).toBe('WebSocket upgrade not done within 1000 ms');
}, 40_000);
