import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { ManualClock, cleanups, deferred, portOf } from '@skein/test-utils';
import { ClientStream, RpcServer } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service, type CallContext } from '../src/index.js';
import { transport } from './harness.js';

const cleanup = cleanups();
const codec = msgpackCodec;

/** Served by the server: its handler calls the client back with its ctx. */
const Front = service('Front', { go: method<null, number>() });
/** Served by the client that connects: the back call's handler waits on its signal. */
const Back = service('Back', { wait: method<null, number>() });

/**
 * A server on a manual clock whose handler calls the connected client back (`ctx.caller`) with
 * `{ ctx }`; what the back call's caller read, and what each handler's signal said.
 */
async function backCall() {
  const clock = new ManualClock();
  const backCaller = deferred<unknown>();
  const frontAborted = deferred<unknown>();
  const backStarted = deferred<void>();
  const backAborted = deferred<unknown>();
  const server = new RpcServer({
    clock,
    closeWaitMs: 0,
    logger: silentLogger,
    dispatch: createServiceDispatch({
      codec,
      logger: silentLogger,
      services: [
        implement(Front, {
          go: async (_: null, ctx: CallContext) => {
            ctx.signal.addEventListener('abort', () => frontAborted.resolve(ctx.signal.reason));
            const back = createClient(Back, ctx.caller!, { codec });
            return back.wait(null, { ctx }).then(
              (v) => (backCaller.resolve(v), v),
              (e: unknown) => (backCaller.resolve(e), -1),
            );
          },
        }),
      ],
    }),
  });
  cleanup.push(() => server.close());
  const a = await server.listen(transport, '127.0.0.1:0');
  const peer = await ClientStream.connect({
    transport,
    address: `127.0.0.1:${portOf(a)}`,
    logger: silentLogger,
    serve: createServiceDispatch({
      codec,
      logger: silentLogger,
      services: [
        implement(Back, {
          wait: (_: null, ctx: CallContext) =>
            new Promise<number>((resolve) => {
              ctx.signal.addEventListener('abort', () => (backAborted.resolve(ctx.signal.reason), resolve(-1)));
              backStarted.resolve();
            }),
        }),
      ],
    }),
  });
  cleanup.push(() => peer.destroy());
  await peer.ping(); // the hello is answered: calls go with their heads, calls both ways agreed
  return { clock, front: createClient(Front, peer, { codec }), backCaller, frontAborted, backStarted, backAborted };
}

/**
 * Server A, on a manual clock, whose handler calls server B (through a ClientStream on the same
 * clock) with `{ ctx }`; B's handler waits on its signal.
 */
async function forwardCall() {
  const clock = new ManualClock();
  const downstreamCaller = deferred<unknown>();
  const frontAborted = deferred<unknown>();
  const backStarted = deferred<void>();
  const backAborted = deferred<unknown>();
  const b = new RpcServer({
    clock,
    closeWaitMs: 0,
    logger: silentLogger,
    dispatch: createServiceDispatch({
      codec,
      logger: silentLogger,
      services: [
        implement(Back, {
          wait: (_: null, ctx: CallContext) =>
            new Promise<number>((resolve) => {
              ctx.signal.addEventListener('abort', () => (backAborted.resolve(ctx.signal.reason), resolve(-1)));
              backStarted.resolve();
            }),
        }),
      ],
    }),
  });
  cleanup.push(() => b.close());
  const toB = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(await b.listen(transport, '127.0.0.1:0'))}`, clock, logger: silentLogger });
  cleanup.push(() => toB.destroy());
  await toB.ping();
  const back = createClient(Back, toB, { codec });
  const a = new RpcServer({
    clock,
    closeWaitMs: 0,
    logger: silentLogger,
    dispatch: createServiceDispatch({
      codec,
      logger: silentLogger,
      services: [
        implement(Front, {
          go: (_: null, ctx: CallContext) => {
            ctx.signal.addEventListener('abort', () => frontAborted.resolve(ctx.signal.reason));
            return back.wait(null, { ctx }).then(
              (v) => (downstreamCaller.resolve(v), v),
              (e: unknown) => (downstreamCaller.resolve(e), -1),
            );
          },
        }),
      ],
    }),
  });
  cleanup.push(() => a.close());
  const toA = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(await a.listen(transport, '127.0.0.1:0'))}`, logger: silentLogger });
  cleanup.push(() => toA.destroy());
  await toA.ping();
  return { clock, front: createClient(Front, toA, { codec }), backCaller: downstreamCaller, frontAborted, backStarted, backAborted };
}

describe('a call made with { ctx } to another server', () => {
  it("ends with Timeout when its call's deadline passes, not Cancelled; both handlers' signals abort", async () => {
    const t = await forwardCall();
    // Short of the client's keepalive: a manual clock moved past it would find pongs unanswered.
    const call = t.front.go(null, { timeoutMs: 1_000 }).catch((e: unknown) => e);
    await t.backStarted.promise;
    t.clock.advance(1_000);
    expect(((await t.backCaller.promise) as RpcError).code).toBe(ErrorCode.Timeout);
    expect(((await t.frontAborted.promise) as RpcError).code).toBe(ErrorCode.Timeout);
    expect(((await t.backAborted.promise) as RpcError).code).toBe(ErrorCode.Timeout);
    expect(((await call) as RpcError).code).toBe(ErrorCode.Timeout);
  });
});

describe('a back call made with { ctx } over the same connection', () => {
  it("ends with Timeout when its call's deadline passes, not Cancelled; both handlers' signals abort", async () => {
    const t = await backCall();
    const call = t.front.go(null, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await t.backStarted.promise;
    t.clock.advance(60_000);
    const read = (await t.backCaller.promise) as RpcError;
    expect(read).toBeInstanceOf(RpcError);
    expect(read.code).toBe(ErrorCode.Timeout);
    expect(((await t.frontAborted.promise) as RpcError).code).toBe(ErrorCode.Timeout);
    await t.backAborted.promise; // the client's back handler was stopped too
    expect(((await call) as RpcError).code).toBe(ErrorCode.Timeout);
  });

  it("ends with Cancelled when its call's client cancels; both handlers' signals abort", async () => {
    const t = await backCall();
    const ac = new AbortController();
    const call = t.front.go(null, { signal: ac.signal }).catch((e: unknown) => e);
    await t.backStarted.promise;
    ac.abort(new Error('user left'));
    expect(((await call) as RpcError).code).toBe(ErrorCode.Cancelled);
    expect(((await call) as RpcError).cause).toEqual(new Error('user left'));
    expect(((await t.frontAborted.promise) as RpcError).code).toBe(ErrorCode.Cancelled);
    expect(((await t.backCaller.promise) as RpcError).code).toBe(ErrorCode.Cancelled);
    await t.backAborted.promise;
  });
});
