import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger, type RpcError } from '@skein/core';
import { abortListeners, deferred, longLivedSignal, portOf, toldListeners } from '@skein/test-utils';
import { ClientStream, RpcServer } from '@skein/stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, serverStream, service, type CallContext } from '../src/index.js';
import { transport } from './harness.js';

/**
 * A handler's stream call made with `{ ctx }` and a long-lived signal of its own (a shutdown
 * signal given to every call) once its own call was cancelled: it fails Cancelled at once and,
 * as its unary sibling, leaves nothing on that signal (README: "leaves no trace on that signal
 * once it settled").
 */

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const codec = msgpackCodec;
const Echo = service('Echo', { count: serverStream<number, number>() });
const Outer = service('Outer', { wait: method<void, void>() });

async function connect(server: RpcServer): Promise<ClientStream> {
  cleanup.push(() => server.close());
  const a = await server.listen(transport, '127.0.0.1:0');
  const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}`, logger: silentLogger });
  cleanup.push(() => stream.destroy());
  await stream.ping();
  return stream;
}

const outcome = (p: Promise<unknown>): Promise<unknown> => p.then((v) => v, (e: RpcError) => e.codeName ?? String(e));

describe('a { ctx } stream call made once the outer call was cancelled', () => {
  it('is Cancelled at once and leaves no listener on its own signal', async () => {
    let opened = 0;
    const echoDispatch = createServiceDispatch({
      codec,
      logger: silentLogger,
      services: [
        implement(Echo, {
          async *count(n: number) {
            opened++;
            for (let i = 0; i < n; i++) yield i;
          },
        }),
      ],
    });
    const echo = createClient(Echo, await connect(new RpcServer({ dispatch: echoDispatch, logger: silentLogger })), { codec, logger: silentLogger });
    const shared = longLivedSignal();
    const report = deferred<{ ended: unknown; onCtx: number; onShared: number }>();
    const entered = deferred<void>();
    const dispatch = createServiceDispatch({
      codec,
      logger: silentLogger,
      services: [
        implement(Outer, {
          wait: async (_: void, ctx: CallContext) => {
            entered.resolve();
            await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
            const ended = await outcome(
              (async () => {
                const items = await echo.count(3, { ctx, signal: shared });
                for await (const _ of items as AsyncIterable<number>);
              })(),
            );
            report.resolve({ ended, onCtx: toldListeners(ctx), onShared: abortListeners(shared) });
          },
        }),
      ],
    });
    const outer = createClient(Outer, await connect(new RpcServer({ dispatch, logger: silentLogger })), { codec, logger: silentLogger });
    const ac = new AbortController();
    const call = outcome(outer.wait(undefined, { signal: ac.signal }));
    await entered.promise;
    ac.abort();
    expect(await call).toBe('Cancelled');
    expect(await report.promise).toEqual({ ended: 'Cancelled', onCtx: 0, onShared: 0 });
    expect(opened).toBe(0);
  });
});
