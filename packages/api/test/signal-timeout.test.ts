import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { ManualClock, cleanups, deferred, portOf, within } from '@skein/test-utils';
import { ClientStream, RpcServer } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, serverStream, service, type CallContext, type Filter } from '../src/index.js';
import { transport } from './harness.js';

/*
 * A typed call or stream given `signal: AbortSignal.timeout(ms)` fails with Timeout, as fetch()
 * tells a TimeoutError from an AbortError, not Cancelled: so does one given a handler's
 * `ctx.signal` once that handler's deadline passed, as one given `{ ctx }` does. Real servers
 * over TCP; what the signals are given never ends otherwise (handlers that never answer, a
 * filter that never settles), so no clock decides.
 */
const cleanup = cleanups();
const codec = msgpackCodec;
const SIGNAL_MS = 20;
const HANG_MS = 10_000;

const Slow = service('Slow', { hold: method<null, number>(), watch: serverStream<null, number>() });
const Front = service('Front', { go: method<null, number>() });

/** Timeout, never retried, `cause` the reason it names, its words the signal's. */
function expectSignalTimeout(err: unknown, words: RegExp, cause: (c: unknown) => boolean): void {
  expect(err).toBeInstanceOf(RpcError);
  const e = err as RpcError;
  expect({ code: e.codeName, retry: e.retry }).toEqual({ code: 'Timeout', retry: 'never' });
  expect(cause(e.cause)).toBe(true);
  expect(e.message).toMatch(words);
}

const timeoutError = (c: unknown): boolean => c instanceof DOMException && c.name === 'TimeoutError';

/** A server of Slow whose handlers never end, telling what their signals aborted with; `clock` its clock, if given. */
async function slowServer(clock?: ManualClock) {
  const aborted = deferred<unknown>();
  const started = deferred<void>();
  const held = (ctx: CallContext): Promise<never> => {
    ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.reason));
    started.resolve();
    return new Promise<never>(() => {});
  };
  const server = new RpcServer({
    ...(clock && { clock }),
    closeWaitMs: 0,
    logger: silentLogger,
    dispatch: createServiceDispatch({
      codec,
      logger: silentLogger,
      services: [
        implement(Slow, {
          hold: (_: null, ctx) => held(ctx),
          async *watch(_: null, ctx) {
            yield 1;
            await held(ctx);
          },
        }),
      ],
    }),
  });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}`, logger: silentLogger, ...(clock && { clock }) });
  cleanup.push(() => stream.destroy());
  await stream.ping(); // the hello is answered: a call with a signal goes with a head, and can be cancelled there
  return { stream, aborted: aborted.promise, started: started.promise };
}

describe('a typed call whose signal times out (AbortSignal.timeout)', () => {
  it('fails Timeout naming its method and its signal, and the server is sent a cancel', async () => {
    const { stream, aborted } = await slowServer();
    const slow = createClient(Slow, stream, { codec });
    const err = await slow.hold(null, { signal: AbortSignal.timeout(SIGNAL_MS) }).catch((e: unknown) => e);
    expectSignalTimeout(err, /^Slow\.hold: call timed out \(its signal: TimeoutError: /, timeoutError);
    expect(await within(aborted, HANG_MS, "the handler's signal")).toMatchObject({ code: ErrorCode.Cancelled });
  });

  it('a server stream: its reading fails Timeout, and the server is sent a cancel', async () => {
    const { stream, aborted } = await slowServer();
    const slow = createClient(Slow, stream, { codec });
    const reading = (async () => {
      for await (const _ of await slow.watch(null, { signal: AbortSignal.timeout(SIGNAL_MS) }));
    })().catch((e: unknown) => e);
    expectSignalTimeout(await reading, /^Slow\.watch: stream timed out \(its signal: TimeoutError: /, timeoutError);
    expect(await within(aborted, HANG_MS, "the handler's signal")).toMatchObject({ code: ErrorCode.Cancelled });
  });

  it("while a client filter's before awaits: Timeout, never sent, said of its signal", async () => {
    const { stream, started } = await slowServer();
    const never: Filter = { before: () => new Promise<void>(() => {}) };
    const slow = createClient(Slow, stream, { codec, filters: [never] });
    const err = await slow.hold(null, { signal: AbortSignal.timeout(SIGNAL_MS) }).catch((e: unknown) => e);
    expectSignalTimeout(err, /^Slow\.hold: timed out \(its signal: TimeoutError: .*\) while a client filter awaited; never sent$/, timeoutError);
    // A call sent before the ping would have started by its answer.
    expect(await Promise.race([started.then(() => 'started'), stream.ping().then(() => 'not started')])).toBe('not started');
  });
});

describe("a call a handler makes with its ctx.signal (not { ctx }) once that handler's deadline passed", () => {
  it('fails Timeout, as a call made with { ctx } does, the reason (a Timeout) as its cause', async () => {
    const clock = new ManualClock();
    const back = await slowServer(clock);
    const slow = createClient(Slow, back.stream, { codec });
    const forwarded = deferred<unknown>();
    const front = new RpcServer({
      clock,
      closeWaitMs: 0,
      logger: silentLogger,
      dispatch: createServiceDispatch({
        codec,
        logger: silentLogger,
        services: [implement(Front, { go: (_: null, ctx) => slow.hold(null, { signal: ctx.signal }).catch((e: unknown) => (forwarded.resolve(e), -1)) })],
      }),
    });
    const a = await front.listen(transport, '127.0.0.1:0');
    cleanup.push(() => front.close());
    const toFront = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}`, logger: silentLogger });
    cleanup.push(() => toFront.destroy());
    await toFront.ping();
    // Short of the clients' keepalive: a manual clock moved past it would find pongs unanswered.
    const call = createClient(Front, toFront, { codec }).go(null, { timeoutMs: 1_000 }).catch((e: unknown) => e);
    await within(back.started, HANG_MS, 'the forwarded call to start');
    clock.advance(1_000);
    const isDeadline = (c: unknown): boolean => c instanceof RpcError && c.code === ErrorCode.Timeout;
    expectSignalTimeout(await within(forwarded.promise, HANG_MS, 'the forwarded call'), /^Slow\.hold: call timed out \(its signal: RpcError: Front\.go: deadline passed\)$/, isDeadline);
    expect(await within(back.aborted, HANG_MS, "the back handler's signal")).toMatchObject({ code: ErrorCode.Cancelled });
    expect(await call).toMatchObject({ code: ErrorCode.Timeout });
  });
});
