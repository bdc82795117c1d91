// A FrameListener.close() that waits for the connections it accepted (the callback of Node's
// net/http2 server.close) holds the server's close up to its closeWaitMs, then leaves the listener
// perhaps still bound: the kit's close test must name it, not only that the close hung. The
// server refuses new calls from close() on whatever its listeners do, so the kit looks at the
// listener's close itself, while a call still holds its connection open.
import { ErrorCode, formatAddress, silentLogger, type Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { ClientStream, RpcServer } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { expect, it } from 'vitest';
import { Action } from '../src/contract.mjs';
import { conformanceDispatch } from '../src/dispatch.mjs';
import { watchListenerCloses } from '../src/listener-watch.js';
import { listenersClosed } from '../src/listeners-closed.js';
import { refusedAtClose } from '../src/refused-at-close.js';
import { cleanups, deferred, waitFor, within } from '@skein/test-utils';

const tcp = tcpTransport(runtime);
const cleanup = cleanups();
const NAMED = /FrameListener\.close\(\) has not resolved \d+ ms after close\(\) began, while connections it accepted are still open/;

/** TCP, with listeners whose close resolves only once `done()` does. */
function listenerClosesWhen(done: () => Promise<void>): Transport {
  return {
    name: tcp.name,
    connect: (address, spec, options) => tcp.connect(address, spec, options),
    listen: async (address, spec, accept) => {
      const listener = await tcp.listen(address, spec, accept);
      return { address: listener.address, close: () => listener.close().then(done) };
    },
  };
}

/** A server on `transport`, one gate call running on it (held for good), and close() begun. */
async function serveAndClose(transport: Transport | ((server: RpcServer) => Transport), closeWaitMs?: number) {
  const served = { closing: (): number => 0 };
  const entered = deferred<void>();
  const server = new RpcServer({
    dispatch: conformanceDispatch({
      info: { runtime: runtime.name, transport: tcp.name },
      gateEntered: () => entered.resolve(),
      gateReleased: new Promise(() => {}),
      logger: silentLogger,
      paused: () => 0,
    }),
    logger: silentLogger,
    ...(closeWaitMs !== undefined && { closeWaitMs }),
  });
  const watched = watchListenerCloses(typeof transport === 'function' ? transport(server) : transport);
  served.closing = watched.closing;
  const address = formatAddress(await server.listen(watched.transport, '127.0.0.1:0'));
  const closed = deferred<void>();
  cleanup.push(() => closed.promise); // last: after the client is gone, the gate call with it
  const stream = await ClientStream.connect({ transport: tcp, address });
  cleanup.push(() => stream.destroy());
  void stream.call(Action.gate).catch(() => {});
  await entered.promise;
  void server.close().then(closed.resolve);
  return { stream, closing: served.closing, closed: closed.promise };
}

it('finds the refusal at once and the listener closed when it closes as it should', async () => {
  const { stream, closing } = await serveAndClose(tcp, 300);
  await expect(refusedAtClose(stream)).resolves.toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
  await expect(listenersClosed(closing, 20_000)).resolves.toBeUndefined();
  expect(closing()).toBe(0);
});

it("names the transport's FrameListener.close() when it waits for the connections it accepted", async () => {
  // As Node's server.close(cb): done only once the server's last connection is gone.
  const waitsForConns = (server: RpcServer) => listenerClosesWhen(() => waitFor(() => server.connections === 0 || undefined, { timeoutMs: 60_000 }).then(() => {}));
  const { stream, closing } = await serveAndClose(waitsForConns, 5_000);
  // The server refuses from close() on all the same: the refusal no longer shows what holds the close.
  await expect(refusedAtClose(stream)).resolves.toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
  await expect(listenersClosed(closing, 300)).rejects.toThrow(NAMED);
});

it("names the transport's FrameListener.close() when it never resolves", async () => {
  const held = deferred<void>();
  const { closing } = await serveAndClose(listenerClosesWhen(() => held.promise));
  cleanup.push(() => held.resolve()); // first: the server's close waits on it
  await expect(listenersClosed(closing, 300)).rejects.toThrow(NAMED);
});

it('names it too when the server gave up waiting for it (closeWaitMs) and closed anyway', async () => {
  // The server bounds its listeners' close by closeWaitMs, then goes on: its close resolves, but
  // the listener never closed (its port may still be bound), which the kit must not pass.
  const held = deferred<void>();
  const { closing, closed } = await serveAndClose(listenerClosesWhen(() => held.promise), 100);
  cleanup.push(() => held.resolve());
  await within(closed, 20_000, 'the server to give up on its listener and close');
  await expect(listenersClosed(closing, 300)).rejects.toThrow(NAMED);
});
