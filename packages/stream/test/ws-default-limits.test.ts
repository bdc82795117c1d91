import { ErrorCode, type RpcError } from '@skein/core';
import { cleanups, portOf } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { ClientStream, DEFAULT_LIMITS, RpcServer, createRouter } from '../src/index.js';

/*
 * Trial (bulk transfers over WebSocket, every option left at its default): a call within the
 * stream's DEFAULT_LIMITS (a 1 MiB message and a 63.5 MiB blob: maxMessage 16 MiB, maxBlob
 * 64 MiB) makes one frame larger than the ws transport's default maxWsMessageBytes (64 MiB +
 * 64 KiB). The server's ws socket closed the connection with 1009: the call failed IO "may
 * have executed" (it never reached a handler) and every other call on the connection failed
 * with it. Over TCP the same call succeeds. The limits the server declares must be ones its
 * transport can carry.
 */
const cleanup = cleanups();
const MiB = 1024 * 1024;

describe('a call within the default limits over the default WebSocket transport', () => {
  it('is carried (or refused alone, unsent), never a lost connection', async () => {
    const transport = wsTransport();
    let runs = 0;
    const server = new RpcServer({ dispatch: createRouter({ put: (req) => (runs++, new Uint8Array([req.blob.length >>> 20])) }) });
    cleanup.push(() => server.close());
    const address = `127.0.0.1:${portOf(await server.listen(transport, '127.0.0.1:0'))}`;
    const stream = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    await stream.call('put'); // the hello is answered: the server's limits are known
    const msg = new Uint8Array(MiB);
    const blob = new Uint8Array(63.5 * MiB);
    expect(msg.length).toBeLessThanOrEqual(DEFAULT_LIMITS.maxMessage);
    expect(blob.length).toBeLessThanOrEqual(DEFAULT_LIMITS.maxBlob);
    const outcome = await stream.call('put', msg, { blob }).then(
      () => 'ran',
      (e: RpcError) => `${e.code === ErrorCode.FrameTooLarge ? 'FrameTooLarge' : `code ${e.code}`} ${e.retry}: ${e.message}`,
    );
    // The server's hello answered the largest frame its transport carries (kind 26's max_frame):
    // the call is refused as the call's own, truthfully (unsent, safe), naming the option to
    // raise, and the connection is left to the calls behind it.
    expect(outcome).toMatch(/^FrameTooLarge safe: .*maxWsMessageBytes/);
    await expect(stream.call('put')).resolves.toBeDefined();
    expect(runs).toBe(2);
  }, 60_000);
});
