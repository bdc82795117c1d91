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

/** What the handlers tell: the back call's outcome as its caller read it, each handler's abort reason, the back handler's start. */
function told() {
  return { backCaller: deferred<unknown>(), frontAborted: deferred<unknown>(), backStarted: deferred<void>(), backAborted: deferred<unknown>() };
}

/** A dispatch of one service's handlers. */
const dispatchOf = (handlers: ReturnType<typeof implement>) => createServiceDispatch({ codec, logger: silentLogger, services: [handlers] });

/** A server on `clock` serving `handlers`, closed by `cleanup`. */
function serverOn(clock: ManualClock, handlers: ReturnType<typeof implement>): RpcServer {
  const server = new RpcServer({ clock, closeWaitMs: 0, logger: silentLogger, dispatch: dispatchOf(handlers) });
  cleanup.push(() => server.close());
  return server;
}

/** Front's handler: makes the back call `backCall(ctx)` (with `{ ctx }`), telling `t` how it ended and what its own signal said. */
const frontCalling = (t: ReturnType<typeof told>, backCall: (ctx: CallContext) => Promise<number>) =>
  implement(Front, {
    go: (_: null, ctx: CallContext) => {
      ctx.signal.addEventListener('abort', () => t.frontAborted.resolve(ctx.signal.reason));
      return backCall(ctx).then(
        (v) => (t.backCaller.resolve(v), v),
        (e: unknown) => (t.backCaller.resolve(e), -1),
      );
    },
  });

/** Back's handler: waits on its signal, telling `t` when it started and what its signal said. */
const backWaiting = (t: ReturnType<typeof told>) =>
  implement(Back, {
    wait: (_: null, ctx: CallContext) =>
      new Promise<number>((resolve) => {
        ctx.signal.addEventListener('abort', () => (t.backAborted.resolve(ctx.signal.reason), resolve(-1)));
        t.backStarted.resolve();
      }),
  });

/**
 * A server on a manual clock whose handler calls the connected client back (`ctx.caller`) with
 * `{ ctx }`; what the back call's caller read, and what each handler's signal said.
 */
async function backCall() {
  const clock = new ManualClock();
  const t = told();
  const server = serverOn(clock, frontCalling(t, (ctx) => createClient(Back, ctx.caller!, { codec }).wait(null, { ctx })));
  const a = await server.listen(transport, '127.0.0.1:0');
  const peer = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}`, logger: silentLogger, serve: dispatchOf(backWaiting(t)) });
  cleanup.push(() => peer.destroy());
  await peer.ping(); // the hello is answered: calls go with their heads, calls both ways agreed
  return { clock, front: createClient(Front, peer, { codec }), ...t };
}

/**
 * Server A, on a manual clock, whose handler calls server B (through a ClientStream on the same
 * clock) with `{ ctx }`; B's handler waits on its signal.
 */
async function forwardCall() {
  const clock = new ManualClock();
  const t = told();
  const b = serverOn(clock, backWaiting(t));
  const toB = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(await b.listen(transport, '127.0.0.1:0'))}`, clock, logger: silentLogger });
  cleanup.push(() => toB.destroy());
  await toB.ping();
  const back = createClient(Back, toB, { codec });
  const a = serverOn(clock, frontCalling(t, (ctx) => back.wait(null, { ctx })));
  const toA = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(await a.listen(transport, '127.0.0.1:0'))}`, logger: silentLogger });
  cleanup.push(() => toA.destroy());
  await toA.ping();
  return { clock, front: createClient(Front, toA, { codec }), ...t };
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
