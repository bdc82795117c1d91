import { EMPTY_BYTES, parseAddress, type Transport } from '@skein/core';
import { cleanups, waitFor } from '@skein/test-utils';
import { uwsTransport, wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { ClientStream, DEFAULT_LIMITS, RpcServer, createRouter } from '../src/index.js';
import { responseFrameSpec } from '../src/wire/frame-specs.js';
import { requestFrame, transport as tcp } from './harness.js';

/*
 * One slow party never stalls the others, across connections: a client that stops reading its
 * socket while it keeps asking (its answers pile up) costs the server what its send buffer holds,
 * then the server stops reading it (README "Backpressure"); it never delays another client's
 * calls. server-write-stall.test.ts covers how such a client is ended once frozen; here the
 * check is off (keepaliveMs 0), so the stalled client stays stalled for as long as the test
 * needs, and what is decided is the order of events: the other client's calls all finish while
 * the first is still paused, with most of its requests unread.
 */

const cleanup = cleanups();

/** Each of the stalled client's answers. */
const REPLY = new Uint8Array(256 * 1024).fill(3);
/** What the stalled client asks for: 100 MiB of answers if the server read them all. */
const ASKED = 400;

describe('a client that stops reading its socket while it keeps asking', () => {
  it.each([
    ['TCP', () => tcp, () => tcp],
    ['ws', () => wsTransport(), () => wsTransport()],
    ['uWebSockets.js', () => uwsTransport(), () => wsTransport()],
  ] as const)("is paused on its own: another client's calls on the same server all finish meanwhile, and its unread requests are not run (%s)", async (_name, serverTransport, clientTransport) => {
    const transport: Transport = clientTransport();
    let ran = 0;
    const server = new RpcServer({
      dispatch: createRouter({ big: () => (ran++, { msg: EMPTY_BYTES, blob: REPLY }), echo: (req) => req.msg }),
      keepaliveMs: 0,
      closeWaitMs: 0,
    });
    cleanup.push(() => server.close());
    const bound = (await server.listen(serverTransport(), '127.0.0.1:0')) as { port: number };
    const address = `127.0.0.1:${bound.port}`;

    // A raw peer (no hello: a razor v1 client) that stops reading its socket, then asks for ASKED large answers.
    const greedy = await transport.connect(parseAddress(address), responseFrameSpec(DEFAULT_LIMITS));
    cleanup.push(() => greedy.close());
    let answered = 0;
    greedy.pause();
    greedy.bind({ frame: () => void answered++, drain: () => undefined, close: () => undefined });
    for (let seq = 1; seq <= ASKED; seq++) greedy.write(requestFrame('big', seq));
    await waitFor(() => server.stats().paused === 1 || undefined, { what: 'the stalled client paused', timeoutMs: 15_000 });

    const other = await ClientStream.connect({ transport, address });
    cleanup.push(() => other.destroy());
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => other.call('echo', new Uint8Array([i & 0xff]))));
    expect(answers.map((r) => r.msg[0])).toEqual(Array.from({ length: 300 }, (_, i) => i & 0xff));

    // Still stalled, still connected, and still unread: the server ran only what it read before
    // its send buffer filled (the kernels' buffers' worth), not what the client asked for
    // (uWebSockets.js cannot stop reading: its connection holds the rest, unrun, within its bound).
    expect(server.stats().paused).toBe(1);
    expect(server.stats().connections).toBe(2);
    expect(answered).toBe(0);
    expect(ran).toBeLessThan(ASKED / 2);
  }, 30_000);
});
