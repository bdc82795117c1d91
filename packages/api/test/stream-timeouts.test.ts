import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { deferred, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { clientStream, createClient, createServiceDispatch, implement, method, serverStream, service } from '../src/index.js';
import { serve } from './harness.js';

const cleanup = cleanups();

const Slow = service('Slow', {
  /** Yields `first`, then waits for `more` (never, unless the test says), ignoring its signal. */
  feed: serverStream<{ first: number }, number>(),
  /** Reads its stream to the end, and never answers. */
  sink: clientStream<number, number>(),
  hang: method<void, void>(),
});

const never = new Promise<never>(() => {});
const codeOf = (e: unknown): number | undefined => (e instanceof RpcError ? e.code : undefined);

async function setup(timeouts: { handlerTimeoutMs?: number; streamTimeoutMs?: number }) {
  const more = deferred<void>();
  const signals: AbortSignal[] = [];
  const s = await serve({
    codec: msgpackCodec,
    logger: silentLogger,
    ...timeouts,
    services: [
      implement(Slow, {
        async *feed({ first }, ctx) {
          signals.push(ctx.signal);
          yield first;
          await more.promise;
          yield first + 1;
        },
        async sink(values, ctx) {
          try {
            for await (const _ of values);
          } catch {
            signals.push(ctx.signal); // looked at only once the stream is over
          }
          return never;
        },
        hang: () => never,
      }),
    ],
  });
  cleanup.push(() => more.resolve(), () => s.close());
  return { slow: createClient(Slow, s.stream, { codec: msgpackCodec }), signals, more };
}

describe('handlerTimeoutMs on streaming methods: it bounds the whole stream', () => {
  it('a server stream whose handler hangs mid-stream, ignoring its signal, ends on the client with Timeout after its items', async () => {
    const { slow, signals } = await setup({ handlerTimeoutMs: 150 });
    const got: number[] = [];
    const err = await within(
      (async () => {
        for await (const v of await slow.feed({ first: 7 })) got.push(v);
      })().catch((e: unknown) => e),
      5000,
      'the stream to time out',
    );
    expect(got).toEqual([7]);
    expect(codeOf(err)).toBe(ErrorCode.Timeout);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true);
    expect(codeOf(signals[0]!.reason)).toBe(ErrorCode.Timeout);
  });

  it('a client stream whose handler never answers fails with Timeout; a signal first looked at after it is aborted', async () => {
    const { slow, signals } = await setup({ handlerTimeoutMs: 150 });
    async function* silent(): AsyncGenerator<number> {
      await never;
    }
    const err = await within(slow.sink(silent()).catch((e: unknown) => e), 5000, 'the stream to time out');
    expect(codeOf(err)).toBe(ErrorCode.Timeout);
    await waitFor(() => signals.length === 1, { what: 'the handler to see its stream end', timeoutMs: 5000 });
    expect(signals[0]!.aborted).toBe(true);
    expect(codeOf(signals[0]!.reason)).toBe(ErrorCode.Timeout);
  });

  it('streamTimeoutMs: 0 leaves streams unbounded while unary calls keep handlerTimeoutMs', async () => {
    const { slow, signals, more } = await setup({ handlerTimeoutMs: 150, streamTimeoutMs: 0 });
    const it = (await slow.feed({ first: 1 }))[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ value: 1, done: false }); // the stream's handler runs now
    // The sweep that times the unary call out has looked at the stream as well, at least once.
    await expect(within(slow.hang(), 5000)).rejects.toMatchObject({ code: ErrorCode.Timeout });
    expect(signals[0]!.aborted).toBe(false);
    more.resolve();
    expect(await it.next()).toEqual({ value: 2, done: false });
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('streamTimeoutMs bounds streams on its own, and a bad value is refused as InvalidArgument', async () => {
    const { slow } = await setup({ streamTimeoutMs: 150 });
    async function* two() {
      yield* [1, 2];
    }
    const err = await within(slow.sink(two()).catch((e: unknown) => e), 5000, 'the stream to time out');
    expect(codeOf(err)).toBe(ErrorCode.Timeout);
    for (const bad of [-1, Number.NaN, Infinity]) {
      expect(() => createServiceDispatch({ codec: msgpackCodec, services: [], streamTimeoutMs: bad })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    }
  });
});
