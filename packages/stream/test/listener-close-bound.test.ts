import { expect, it } from 'vitest';
import { deferred, portOf, within, cleanups } from '@skein/test-utils';
import type { Transport } from '@skein/core';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { memoryLogger, transport } from './harness.js';

/*
 * A server's close waits for its listeners' close. A transport whose listener close waits for
 * the connections it accepted (as Node's net and http2 `server.close(cb)` do: the natural first
 * way to write one) never resolves while they are open, so the server's close hung for good (its
 * connections, then drained only after it, never were). Found by a third-party transport trial.
 * Now the listeners' close is bounded by `closeWaitMs`, and the close goes on.
 */

const cleanup = cleanups();

/** `inner`, with a listener whose close closes the real one but never says it is done. */
function hangingClose(inner: Transport): Transport {
  return {
    name: inner.name,
    connect: (address, spec, options) => inner.connect(address, spec, options),
    listen: async (address, spec, accept) => {
      const listener = await inner.listen(address, spec, accept);
      return { address: listener.address, close: () => listener.close().then(() => new Promise<void>(() => {})) };
    },
  };
}

it('a listener whose close never resolves holds the close only for closeWaitMs: calls in flight are answered, then it ends', async () => {
  const logger = memoryLogger();
  const gate = deferred<void>();
  const started = deferred<void>();
  const server = new RpcServer({ dispatch: createRouter({ 1: async () => (started.resolve(), await gate.promise, new Uint8Array([7])) }), logger, closeWaitMs: 300 });
  const a = await server.listen(hangingClose(transport), '127.0.0.1:0');
  const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}`, keepaliveMs: 0 });
  cleanup.push(() => stream.destroy());
  const inFlight = stream.call(1);
  await started.promise;
  const closed = server.close();
  gate.resolve();
  expect(Array.from((await inFlight).msg)).toEqual([7]);
  await within(closed, 10_000, 'the server to close');
  expect(server.state).toBe('closed');
  expect(logger.lines.some((l) => l.level === 'warn' && /listeners not closed within closeWaitMs/.test(l.msg ?? ''))).toBe(true);
});

it('a listener whose close fails is logged, and the close goes on', async () => {
  const logger = memoryLogger();
  const failing: Transport = {
    ...transport,
    name: transport.name,
    connect: (address, spec, options) => transport.connect(address, spec, options),
    listen: async (address, spec, accept) => {
      const listener = await transport.listen(address, spec, accept);
      return { address: listener.address, close: () => listener.close().then(() => Promise.reject(new Error('close failed'))) };
    },
  };
  const server = new RpcServer({ dispatch: createRouter({ 1: () => new Uint8Array([1]) }), logger, closeWaitMs: 300 });
  await server.listen(failing, '127.0.0.1:0');
  await within(server.close(), 10_000, 'the server to close');
  expect(server.state).toBe('closed');
  expect(logger.lines.some((l) => l.level === 'warn' && l.msg === 'a listener failed to close')).toBe(true);
});

it('a listen() that never resolves does not keep the other listeners bound: their port is free once close() resolved', async () => {
  // A transport whose listen hangs (a bind stuck on a slow name lookup, a broken third-party transport).
  const stuck: Transport = { name: 'stuck', connect: (address, spec, options) => transport.connect(address, spec, options), listen: () => new Promise(() => {}) };
  const server = new RpcServer({ dispatch: createRouter({ 1: () => new Uint8Array([1]) }), logger: memoryLogger(), closeWaitMs: 200 });
  const bound = await server.listen(transport, '127.0.0.1:0');
  server.listen(stuck, '127.0.0.1:0').catch(() => undefined);
  await within(server.close(), 10_000, 'the server to close');
  expect(server.state).toBe('closed');
  // A restart on the same port: refused with EADDRINUSE while the first listener is still bound.
  const next = new RpcServer({ dispatch: createRouter({ 1: () => new Uint8Array([2]) }), closeWaitMs: 200 });
  cleanup.push(() => next.close());
  await expect(next.listen(transport, `127.0.0.1:${bound.port}`)).resolves.toMatchObject({ port: bound.port });
});

it('a close wait that runs out says how many calls were still running, and what a handler can end on', async () => {
  const logger = memoryLogger();
  const started = deferred<void>();
  const server = new RpcServer({ dispatch: createRouter({ 1: () => (started.resolve(), new Promise<Uint8Array>(() => {})) }), logger, closeWaitMs: 200 });
  const a = await server.listen(transport, '127.0.0.1:0');
  const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}`, keepaliveMs: 0 });
  cleanup.push(() => stream.destroy());
  const lost = stream.call(1).catch((e: unknown) => e);
  await started.promise;
  await within(server.close(), 10_000, 'the server to close');
  await lost;
  const line = logger.lines.find((l) => l.level === 'warn' && /close wait over/.test(l.msg ?? ''));
  expect(line?.msg).toMatch(/1 call or stream still running after closeWaitMs 200 ms; a handler that runs until told can end on req\.conn\.draining \/ ctx\.draining/);
  expect(line?.obj).toMatchObject({ connections: 1, inFlight: 1, closeWaitMs: 200 });
});
