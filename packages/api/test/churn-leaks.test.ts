import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger } from '@skein/core';
import { abortListeners, heapAfterGc, longLivedSignal, portOf, toldListeners, waitFor, cleanups } from '@skein/test-utils';
import { ClientStream, RpcServer, type ServerRequest } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, serverStream, service, type CallContext, type Client, type Filter } from '../src/index.js';
import { transport } from './harness.js';

/**
 * A typed client in a long-running service: calls made from handlers (`{ ctx }`), streams
 * broken off, filters that throw, all with one AbortSignal that outlives them (a shutdown
 * signal). Nothing of a settled call may stay on that signal.
 */

const cleanup = cleanups();

const codec = msgpackCodec;
const Echo = service('Echo', { ping: method<number, number>(), count: serverStream<number, number>() });
const Relay = service('Relay', { fan: method<number, number>(), streams: method<number, number>() });


async function listen(server: RpcServer): Promise<ClientStream> {
  cleanup.push(() => server.close());
  const a = await server.listen(transport, '127.0.0.1:0');
  const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}`, logger: silentLogger });
  cleanup.push(() => stream.destroy());
  return stream;
}

/** Echo, and a Relay whose handlers call Echo on their own call's behalf, with `{ ctx, signal: shared }`. */
async function relayChain(shared: AbortSignal, filters: Filter[] = []) {
  const echoServer = new RpcServer({
    dispatch: createServiceDispatch({
      codec,
      logger: silentLogger,
      services: [
        implement(Echo, {
          ping: (n: number) => n,
          async *count(n: number) {
            for (let i = 0; i < n; i++) yield i;
          },
        }),
      ],
    }),
    logger: silentLogger,
  });
  const echo: Client<typeof Echo> = createClient(Echo, await listen(echoServer), { codec, filters, logger: silentLogger });
  const fan = async (n: number, ctx: CallContext): Promise<number> => {
    let done = 0;
    for (let i = 0; i < n; i += 250) {
      const batch = Array.from({ length: Math.min(250, n - i) }, (_, j) => echo.ping(i + j, { ctx, signal: shared }).catch(() => -1));
      done += (await Promise.all(batch)).filter((v) => v >= 0).length;
    }
    return done;
  };
  const streams = async (n: number, ctx: CallContext): Promise<number> => {
    let opened = 0;
    for (let i = 0; i < n; i++) {
      const items = await echo.count(5, { ctx, signal: shared }).catch(() => undefined);
      if (!items) continue;
      opened++;
      // Broken off after one item: the stream is cancelled, and its link to `shared` must go with it.
      for await (const _ of items) break;
    }
    return opened;
  };
  const relayServer = new RpcServer({ dispatch: createServiceDispatch({ codec, logger: silentLogger, services: [implement(Relay, { fan, streams })] }), logger: silentLogger });
  return createClient(Relay, await listen(relayServer), { codec, logger: silentLogger });
}

describe('calls made from handlers with { ctx } and a long-lived signal', () => {
  it('do not pile up on the signal: 60 000 calls leave the heap where it was', async () => {
    // Regression: the signal was combined with the handler's by `AbortSignal.any`, and each
    // signal it makes stays registered on its sources (Node 20 keeps a weak reference per made
    // signal, pruned only when a source aborts): about 53 bytes a call on the shared signal, for
    // ever. 60 000 calls leaked 3.2 MB here; the bound, 1 MB (17 bytes a call), is under a third
    // of that and over four times what the heap drifts by without the leak (0.23 MB measured).
    const shared = longLivedSignal();
    const relay = await relayChain(shared);
    for (let i = 0; i < 5; i++) await relay.fan(1_000); // warm: code, buffers, tables at their size
    const before = heapAfterGc();
    let done = 0;
    for (let i = 0; i < 60; i++) done += await relay.fan(1_000);
    expect(done).toBe(60_000);
    const grown = heapAfterGc() - before;
    expect(abortListeners(shared)).toBe(0);
    expect(grown).toBeLessThan(1_000_000);
  });

  it('streams broken off, and calls a throwing filter refuses, leave no listener on it either', async () => {
    const shared = longLivedSignal();
    let n = 0;
    // Every third call refused by the client filter before it is sent.
    const flaky: Filter = {
      before() {
        if (++n % 3 === 0) throw new Error('refused by a filter');
      },
    };
    const relay = await relayChain(shared, [flaky]);
    expect(await relay.fan(3_000)).toBe(2_000);
    expect(await relay.streams(3_000)).toBe(2_000);
    expect(abortListeners(shared)).toBe(0);
  });
});

describe('handlers that never settle', () => {
  it("leave nothing on their connection's signal once the handler timeout answered them", async () => {
    const Hang = service('Hang', { wait: method<number, number>() });
    let connection: AbortSignal | undefined;
    let plain: ServerRequest | undefined;
    const services = createServiceDispatch({
      codec,
      logger: silentLogger,
      handlerTimeoutMs: 1,
      // Reads its signal (which links it to the connection's), then never answers.
      services: [implement(Hang, { wait: (_n: number, ctx: CallContext) => (void ctx.signal, new Promise<number>(() => {})) })],
    });
    // A plain call's `req.signal` is its connection's: kept here to count what stays on it.
    const server = new RpcServer({ dispatch: { dispatch: (req) => ((connection ??= req.signal), (plain ??= req), services.dispatch(req)) }, logger: silentLogger });
    const hang = createClient(Hang, await listen(server), { codec, logger: silentLogger });
    const outcomes = await Promise.all(Array.from({ length: 50 }, (_, i) => hang.wait(i).then(() => 'ok', (e: { code?: number }) => e.code)));
    expect(new Set(outcomes)).toEqual(new Set([ErrorCode.Timeout]));
    expect(abortListeners(connection!)).toBe(0);
    // What a ctx links through (ServerRequest.onAbort): kept on the connection, not on its signal.
    expect(toldListeners(plain!)).toBe(0);
  });

  it("leave nothing on their connection's signal when work they left running reads ctx.signal after the answer", async () => {
    const Late = service('Late', { go: method<number, number>() });
    let connection: AbortSignal | undefined;
    let plain: ServerRequest | undefined;
    let lateReads = 0;
    const services = createServiceDispatch({
      codec,
      logger: silentLogger,
      // Answers at once; what it left running reads the signal later, and listens as a call made with `{ ctx }` does.
      services: [implement(Late, { go: (n: number, ctx: CallContext) => (setImmediate(() => (void ctx.signal, void ctx.aborted, ctx.onAbort(() => {}), lateReads++)), n) })],
    });
    const server = new RpcServer({ dispatch: { dispatch: (req) => ((connection ??= req.signal), (plain ??= req), services.dispatch(req)) }, logger: silentLogger });
    const late = createClient(Late, await listen(server), { codec, logger: silentLogger });
    for (let i = 0; i < 50; i++) expect(await late.go(i)).toBe(i);
    await waitFor(() => lateReads === 50, { what: 'the late reads' });
    expect(abortListeners(connection!)).toBe(0);
    // What a ctx links through (ServerRequest.onAbort): kept on the connection, not on its signal.
    expect(toldListeners(plain!)).toBe(0);
  });
});
