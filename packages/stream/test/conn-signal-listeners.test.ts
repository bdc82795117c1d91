import { expect, it } from 'vitest';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { cleanups } from '@skein/test-utils';

/*
 * A plain call's signal is its connection's (README, "Cancel, deadlines"), so every handler
 * running on a connection that listens to it (api's ctx.signal, a fetch given it, a call made
 * with `{ ctx }`) adds a listener to that one signal. Twelve at once on one connection is
 * ordinary load, yet Node printed "MaxListenersExceededWarning: Possible EventTarget memory leak
 * detected. 11 abort listeners" (found by the peer-mesh example: 16 callbacks in flight).
 */

const cleanup = cleanups<() => Promise<unknown>>();

it('many calls at once listening to their connection\'s signal raise no "memory leak" warning', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  cleanup.push(async () => void process.off('warning', onWarning));
  const listening: (() => void)[] = [];
  const server = new RpcServer({
    dispatch: createRouter({
      hold: (req) =>
        new Promise<Uint8Array>((resolve) => {
          const onAbort = (): void => resolve(new Uint8Array());
          req.signal.addEventListener('abort', onAbort, { once: true });
          listening.push(() => (req.signal.removeEventListener('abort', onAbort), resolve(new Uint8Array([1]))));
        }),
    }),
  });
  const transport = tcpTransport(nodeRuntime);
  const { port } = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${port}` });
  cleanup.push(() => stream.close());
  const calls = Array.from({ length: 32 }, () => stream.call('hold'));
  while (listening.length < 32) await new Promise((r) => setTimeout(r, 5));
  for (const done of listening) done();
  expect((await Promise.all(calls)).map((r) => r.msg.length)).toEqual(Array(32).fill(1));
  // Warnings are emitted on the next tick.
  await new Promise((r) => setImmediate(r));
  expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual([]);
});

it("many reverse calls at once listening to their connection's signal, on the side that serves them, raise no warning either", async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  cleanup.push(async () => void process.off('warning', onWarning));
  const listening: (() => void)[] = [];
  const hold = (req: { signal: AbortSignal }) =>
    new Promise<Uint8Array>((resolve) => {
      const onAbort = (): void => resolve(new Uint8Array());
      req.signal.addEventListener('abort', onAbort, { once: true });
      listening.push(() => (req.signal.removeEventListener('abort', onAbort), resolve(new Uint8Array([1]))));
    });
  const server = new RpcServer({ dispatch: createRouter({ 1: (req) => req.msg }) });
  const transport = tcpTransport(nodeRuntime);
  const { port } = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${port}`, serve: createRouter({ hold }) });
  cleanup.push(() => stream.close());
  await stream.call(1);
  const caller = server.openConnections()[0]!.caller!;
  const calls = Array.from({ length: 32 }, () => new Promise<number>((resolve, reject) => caller.send('hold', new Uint8Array(), {}, (err, reply) => (err ? reject(err) : resolve(reply!.msg.length)))));
  while (listening.length < 32) await new Promise((r) => setTimeout(r, 5));
  for (const done of listening) done();
  expect(await Promise.all(calls)).toEqual(Array(32).fill(1));
  await new Promise((r) => setImmediate(r));
  expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual([]);
});
