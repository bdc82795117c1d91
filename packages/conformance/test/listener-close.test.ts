// A FrameListener.close() that waits for the connections it accepted (the callback of Node's
// net/http2 server.close) holds the server's drain back for good: the kit's close test must say
// that is what happened, not only that calls were still answered.
import { ErrorCode, formatAddress, silentLogger, type Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { ClientStream, RpcServer } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { expect, it } from 'vitest';
import { conformanceDispatch } from '../src/dispatch.mjs';
import { watchListenerCloses } from '../src/listener-watch.js';
import { refusedWhileDraining } from '../src/refused-while-draining.js';
import { cleanups } from '@skein/test-utils';

const tcp = tcpTransport(runtime);
const cleanup = cleanups();

/** TCP, with listeners whose close resolves only once `release` is called. */
function heldListenerCloses(): { transport: Transport; release: () => void } {
  let release = (): void => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const transport: Transport = {
    name: tcp.name,
    connect: (address, spec, options) => tcp.connect(address, spec, options),
    listen: async (address, spec, accept) => {
      const listener = await tcp.listen(address, spec, accept);
      return { address: listener.address, close: () => listener.close().then(() => released) };
    },
  };
  return { transport, release };
}

async function serveAndClose(transport: Transport, closeWaitMs?: number): Promise<{ stream: ClientStream; closing: () => number }> {
  const served = watchListenerCloses(transport);
  const server = new RpcServer({
    dispatch: conformanceDispatch({
      info: { runtime: runtime.name, transport: tcp.name },
      gateEntered: () => {},
      gateReleased: new Promise(() => {}),
      logger: silentLogger,
      paused: () => 0,
    }),
    logger: silentLogger,
    ...(closeWaitMs !== undefined && { closeWaitMs }),
  });
  const address = formatAddress(await server.listen(served.transport, '127.0.0.1:0'));
  const stream = await ClientStream.connect({ transport: tcp, address });
  cleanup.push(() => server.close());
  cleanup.push(() => stream.destroy());
  void server.close();
  return { stream, closing: served.closing };
}

it("names the transport's FrameListener.close() when it holds the server's drain back", async () => {
  const held = heldListenerCloses();
  const { stream, closing } = await serveAndClose(held.transport);
  cleanup.push(held.release); // first: the server's close waits on it
  await expect(refusedWhileDraining(stream, closing, 300)).rejects.toThrow(/calls were still answered 300 ms after close\(\) began: the transport's FrameListener\.close\(\) has not resolved/);
});

it('finds the refusal when the listener closes as it should', async () => {
  const { stream, closing } = await serveAndClose(tcp);
  await expect(refusedWhileDraining(stream, closing, 20_000)).resolves.toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
  expect(closing()).toBe(0);
});

it('names it too when the server gave up waiting for it (closeWaitMs) and drains anyway', async () => {
  // The server bounds its listeners' close by closeWaitMs, then drains: a refusal comes, but the
  // listener never closed (its port may still be bound), which the kit must not pass.
  const held = heldListenerCloses();
  const { stream, closing } = await serveAndClose(held.transport, 100);
  cleanup.push(held.release);
  await expect(refusedWhileDraining(stream, closing, 20_000)).rejects.toThrow(/FrameListener\.close\(\) has not resolved/);
});
