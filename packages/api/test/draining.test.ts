import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { RpcServer } from '@skein/stream';
import { abortListeners, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, serverStream, service, type CallContext } from '../src/index.js';
import { listening } from './harness.js';

const cleanup = cleanups();

const Feed = service('Feed', { watch: serverStream<void, number>() });

/** Far longer than any test here runs: a close that waited for it would fail the test's safety net. */
const CLOSE_WAIT_MS = 30_000;

/** Resolves when `ctx.draining` fires; `off()` removes the listener (the signal is the server's, kept until it closes). */
function whenDraining(ctx: CallContext): { drained: Promise<'drained'>; off(): void } {
  let onAbort!: () => void;
  const drained = new Promise<'drained'>((resolve) => (onAbort = () => resolve('drained')));
  if (ctx.draining.aborted) onAbort();
  else ctx.draining.addEventListener('abort', onAbort, { once: true });
  return { drained, off: () => ctx.draining.removeEventListener('abort', onAbort) };
}

const nextTurn = (): Promise<'next'> => new Promise((resolve) => setImmediate(() => resolve('next')));

interface Seen {
  yielded: number[];
  ctxs: CallContext[];
  ended: number;
}

/** A feed that runs until its server drains: an item per turn of the event loop, then a normal return. */
async function start(seen: Seen) {
  const server = new RpcServer({
    closeWaitMs: CLOSE_WAIT_MS,
    logger: silentLogger,
    dispatch: createServiceDispatch({
      codec: msgpackCodec,
      logger: silentLogger,
      services: [
        implement(Feed, {
          async *watch(_: void, ctx: CallContext) {
            seen.ctxs.push(ctx);
            const { drained, off } = whenDraining(ctx);
            try {
              for (let i = 0; ; i++) {
                seen.yielded.push(i);
                yield i;
                if ((await Promise.race([drained, nextTurn()])) === 'drained') return;
              }
            } finally {
              off();
              seen.ended++;
            }
          },
        }),
      ],
    }),
  });
  const served = await listening(server, cleanup);
  const connect = async () => createClient(Feed, await served.connect(), { codec: msgpackCodec });
  return { server, connect };
}

describe('ctx.draining: a handler learns that its server began to close', () => {
  it('a feed that ends on ctx.draining ends normally with every item, and server.close() need not wait closeWaitMs for it', { timeout: 20_000 }, async () => {
    const seen: Seen = { yielded: [], ctxs: [], ended: 0 };
    const { server, connect } = await start(seen);
    const feed = await connect();
    const events: string[] = [];
    const got: number[] = [];
    let closing: Promise<void> | undefined;
    const reading = (async () => {
      for await (const v of await feed.watch()) {
        got.push(v);
        if (got.length === 3) closing = server.close().then(() => void events.push('server closed'));
      }
      events.push('stream ended normally');
    })();
    await within(reading, 15_000, 'the feed to end');
    // closeWaitMs is 30 s: a close that waited for the stream would trip this safety net first.
    await within(closing!, 15_000, 'server close');
    expect(events).toEqual(['stream ended normally', 'server closed']);
    // Every item the handler yielded reached the client, the ones in flight at the close included.
    expect(got).toEqual(seen.yielded);
    expect(got.length).toBeGreaterThanOrEqual(3);
    const ctx = seen.ctxs[0]!;
    expect(ctx.draining.aborted).toBe(true);
    expect(ctx.draining.reason).toBeInstanceOf(RpcError);
    expect((ctx.draining.reason as RpcError).code).toBe(ErrorCode.Closed);
    // Draining is no cancel: the call was waited for to the end.
    expect(ctx.signal.aborted).toBe(false);
  });

  it('is no cancel, and is one signal for every call of the server (nothing made per call)', { timeout: 20_000 }, async () => {
    const seen: Seen = { yielded: [], ctxs: [], ended: 0 };
    const { server, connect } = await start(seen);
    const [one, two] = [await connect(), await connect()];
    // The first client breaks off its stream: a cancel, which the handler sees on ctx.signal only.
    for await (const v of await one.watch()) if (v === 2) break;
    await waitFor(() => seen.ended === 1, { what: 'the cancelled feed to end' });
    const cancelled = seen.ctxs[0]!;
    expect(cancelled.signal.aborted).toBe(true);
    expect(cancelled.draining.aborted).toBe(false);
    // The handler took its listener off as it ended, and nothing else of the call's is left on the server's signal.
    expect(abortListeners(cancelled.draining)).toBe(0);
    // A call on another connection reads the same signal as the first, and as the server's own.
    const got: number[] = [];
    const reading = (async () => {
      for await (const v of await two.watch()) {
        got.push(v);
        if (got.length === 1) {
          expect(seen.ctxs[1]!.draining).toBe(cancelled.draining);
          expect(server.draining).toBe(cancelled.draining);
          void server.close();
        }
      }
    })();
    await within(reading, 15_000, 'the second feed to end');
    await within(server.close(), 15_000, 'server close');
    expect(cancelled.draining.aborted).toBe(true);
    expect(got).toEqual(seen.yielded.slice(seen.yielded.length - got.length));
  });
});
