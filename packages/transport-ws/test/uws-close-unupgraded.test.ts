import { rawConnect, within, cleanups, type RawSocket } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { uwsTransport } from '../src/index.js';
import { frame, rawClient, startServer, text, until } from './helpers.js';

/*
 * uWebSockets.js shows a connection only once it is upgraded, so nobody closed the sockets it
 * had accepted and not upgraded yet (a client that connected and sent nothing, or half its
 * upgrade request) when its listener closed: each held the process until uWS's own HTTP idle
 * timeout, some 10 s after the server's close() had resolved saying nothing was left. Now the
 * listener drops them once it is closed and no upgraded connection is left (those drain first:
 * dropping the app's sockets would cut them).
 */

const cleanup = cleanups();

/** Well short of uWS's own HTTP idle timeout (10 s), which closed these sockets before. */
const PROMPTLY_MS = 5000;

/** Sockets stalled before their upgrade: one silent, one halfway through its request. */
async function unupgraded(port: number): Promise<RawSocket[]> {
  const silent = await rawConnect(`127.0.0.1:${port}`);
  const half = await rawConnect(`127.0.0.1:${port}`);
  half.write(Buffer.from('GET /skein HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n'));
  cleanup.push(() => (silent.destroy(), half.destroy()));
  return [silent, half];
}

describe('uWebSockets.js listener close', () => {
  it('drops the sockets accepted but not upgraded once it is closed', async () => {
    const s = await startServer(uwsTransport());
    const stalled = await unupgraded(s.port);
    await s.listener.close();
    await within(Promise.all(stalled.map((r) => r.closedByPeer)), PROMPTLY_MS, 'the unupgraded sockets to be dropped');
  });

  it('lets an upgraded connection drain first, then drops them', async () => {
    const s = await startServer(uwsTransport(), { echo: true });
    const peer = await rawClient(s.url());
    cleanup.push(() => peer.ws.terminate());
    await until(() => s.accepted.length === 1, 'the connection accepted');
    const stalled = await unupgraded(s.port);
    await s.listener.close();
    // The upgraded connection still works: closing the listener cut nothing.
    peer.ws.send(frame('still here'));
    await until(() => peer.messages.length === 1, 'the echo after the listener closed');
    expect(text(peer.messages[0]!.subarray(4))).toBe('still here');
    expect(stalled.some((r) => r.peerClosed)).toBe(false);
    // It ends (its server's drain done): nothing is left for the stalled sockets to wait on.
    s.accepted[0]!.conn.close();
    await within(Promise.all(stalled.map((r) => r.closedByPeer)), PROMPTLY_MS, 'the unupgraded sockets to be dropped');
    expect((await peer.closed.promise).code).toBe(1000);
  });
});
