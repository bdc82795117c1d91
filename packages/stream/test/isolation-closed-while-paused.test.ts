import { EMPTY_BYTES, parseAddress } from '@skein/core';
import { cleanups, waitFor, within } from '@skein/test-utils';
import { uwsTransport, wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, RpcServer, createRouter } from '../src/index.js';
import { responseFrameSpec } from '../src/wire/frame-specs.js';
import { requestFrame } from './harness.js';

/*
 * A client that stops reading while it asks for large answers, then closes cleanly, on a
 * uWebSockets.js listener. uWS cannot stop reading a WebSocket, so while the server is paused (its
 * send buffer full) the connection holds the client's later requests; a clean close is reported
 * after the data held before it, so it waited for a resume that never came (a gone socket drains
 * nothing). And the server's every way of ending that connection (idle timeout, the close's cut)
 * called `close()` on a FrameConn whose transport was gone, which did nothing: the connection
 * stayed for ever, counted against maxConnections with its held requests, `close()` never
 * settled, and 'closing idle connection' was logged on every tick.
 */

const cleanup = cleanups();

const REPLY = new Uint8Array(256 * 1024).fill(3);
const ASKED = 400;

describe('a uWebSockets.js client that stops reading, then closes cleanly while the server is paused', () => {
  it('is let go: the idle timeout ends its connection, and close() settles', async () => {
    const server = new RpcServer({
      dispatch: createRouter({ big: () => ({ msg: EMPTY_BYTES, blob: REPLY }) }),
      keepaliveMs: 0,
      idleTimeoutMs: 200,
      tickMs: 20,
      closeWaitMs: 0,
    });
    let closed = false;
    cleanup.push(() => (closed ? undefined : server.close()));
    const bound = (await server.listen(uwsTransport(), '127.0.0.1:0')) as { port: number };

    // A raw peer (no hello) that stops reading its socket, then asks for ASKED large answers.
    const greedy = await wsTransport().connect(parseAddress(`127.0.0.1:${bound.port}`), responseFrameSpec(DEFAULT_LIMITS));
    let greedyClosed = false;
    greedy.pause();
    greedy.bind({ frame: () => undefined, drain: () => undefined, close: () => void (greedyClosed = true) });
    for (let seq = 1; seq <= ASKED; seq++) greedy.write(requestFrame('big', seq));
    await waitFor(() => server.stats().paused === 1 || undefined, { what: 'the server paused on its full send buffer' });
    // Its close frame goes at once; uWS reads it, whatever the server's pause, and its socket goes.
    greedy.close();
    expect(greedyClosed).toBe(true);

    await waitFor(() => server.stats().connections === 0 || undefined, { what: 'the closed connection gone from the server', timeoutMs: 15_000 });
    await within(server.close(), 10_000, 'server.close()');
    closed = true;
  }, 30_000);
});
