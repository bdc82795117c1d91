import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode, type FrameListener } from '@skein/core';
import { cleanups, describeNeeding, launch, reap, suiteCerts, testTls } from '@skein/test-utils';
import { wsTransport } from '../src/index.js';
import { spec } from './helpers.js';

/*
 * Found by a review: a plain `ws` client dialling a wss server (no tls options, no wss:// in the
 * address) had its connect fail with a hint naming a Skein server over TCP, or a server at its
 * connection limit, never TLS. Node's and Bun's TLS servers close the request they cannot read
 * as a handshake without a byte ("socket hang up"); Deno's answers it with a TLS alert, which the
 * client read as "no HTTP". Both now name wss://. Node serves here; Bun and Deno run
 * fixtures/wss-echo-server.mjs.
 */

const { serverTls } = testTls(suiteCerts());
const cleanup = cleanups();
const HANG_MS = 20_000;
const fixture = fileURLToPath(new URL('./fixtures/wss-echo-server.mjs', import.meta.url));

async function serve(runtime: 'node' | 'bun' | 'deno'): Promise<number> {
  if (runtime === 'node') {
    const listener: FrameListener = await wsTransport({ tls: serverTls() }).listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => conn.bind({ frame() {}, drain() {}, close() {} }));
    cleanup.push(() => listener.close());
    return (listener.address as { port: number }).port;
  }
  const child = launch(runtime, fixture, [JSON.stringify(serverTls())]);
  cleanup.push(() => reap(child));
  return Number((await child.waitForLine(/^listening (\d+)$/, HANG_MS))[1]);
}

const WSS = /\(dial wss:\/\/host:port, or give the transport tls options\)/;

for (const runtime of ['node', 'bun', 'deno'] as const) {
  describeNeeding(runtime === 'node' ? [] : [runtime], `a plain ws client whose server is a wss server on ${runtime}`, () => {
    it('fails its connect with Unreachable naming wss://', async () => {
      const port = await serve(runtime);
      const err = await wsTransport()
        .connect({ host: '127.0.0.1', port }, spec, { timeoutMs: HANG_MS })
        .then((conn) => (conn.close(), new Error('connected')), (e: Error) => e);
      expect(err).toMatchObject({ code: ErrorCode.Unreachable, retry: 'safe' });
      expect(err.message).toMatch(WSS);
    });
  });
}
