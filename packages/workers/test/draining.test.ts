import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger } from '@skein/core';
import { createClient } from '@skein/api';
import { ClientStream, RpcServer } from '@skein/stream';
import { cleanups, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { News } from './fixtures/drains.mjs';
import { startPool, transport } from './harness.js';

const DRAINS_MODULE = new URL('./fixtures/drains.mjs', import.meta.url);

/** Far longer than the test runs: a close that waited for the call would fail its safety net. */
const CLOSE_WAIT_MS = 30_000;

const cleanup = cleanups();

/** Resolves with the next line the fixture's handler reports. */
function nextEvent(): Promise<string> {
  const events = new BroadcastChannel('skein-workers-test-draining');
  cleanup.push(() => events.close());
  return new Promise((resolve) => (events.onmessage = (e: MessageEvent) => resolve(e.data as string)));
}

describe("a worker handler's ctx.draining", () => {
  it('fires when the server begins to close: a long poll in a worker answers, and close() need not wait closeWaitMs', { timeout: 30_000 }, async () => {
    const pool = await startPool({ module: DRAINS_MODULE, workers: 1 });
    cleanup.push(() => pool.destroy());
    const server = new RpcServer({ dispatch: pool, closeWaitMs: CLOSE_WAIT_MS, logger: silentLogger });
    cleanup.push(() => server.close());
    const a = await server.listen(transport, '127.0.0.1:0');
    const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${a.port}`, tickMs: 100 });
    cleanup.push(() => stream.destroy());
    const news = createClient(News, stream, { codec: msgpackCodec });
    const waiting = nextEvent();
    const events: string[] = [];
    const answer = news.next().then((r) => {
      events.push('call answered');
      return r;
    });
    expect(await within(waiting, 15_000, 'the handler to run')).toBe('waiting');
    const closing = server.close().then(() => void events.push('server closed'));
    // Ok, and not cancelled: draining is no cancel, and the answer went out.
    expect(await within(answer, 15_000, 'the long poll to answer')).toEqual({ drained: true, code: ErrorCode.Closed, cancelled: false });
    await within(closing, 15_000, 'server close');
    expect(events).toEqual(['call answered', 'server closed']);
  });

  it('is aborted from the start for a call whose connection its worker first hears of after the server began to close', { timeout: 30_000 }, async () => {
    // One place in one worker: the first connection's long poll holds it, so the second's call
    // waits in the pool's queue, and the worker knows nothing of that connection until the call
    // is sent, after the close began. No later message tells it of the drain: only the
    // connection's description can.
    const pool = await startPool({ module: DRAINS_MODULE, workers: 1, maxInFlightPerWorker: 1 });
    cleanup.push(() => pool.destroy());
    const server = new RpcServer({ dispatch: pool, closeWaitMs: CLOSE_WAIT_MS, logger: silentLogger });
    cleanup.push(() => server.close());
    const a = await server.listen(transport, '127.0.0.1:0');
    const connect = async () => {
      const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${a.port}`, tickMs: 100 });
      cleanup.push(() => stream.destroy());
      return createClient(News, stream, { codec: msgpackCodec });
    };
    const [first, second] = [await connect(), await connect()];
    const waiting = nextEvent();
    const held = first.next();
    expect(await within(waiting, 15_000, 'the first handler to run')).toBe('waiting');
    const queued = second.next();
    await waitFor(() => pool.stats().queued === 1);
    const closing = server.close();
    const drained = { drained: true, code: ErrorCode.Closed, cancelled: false };
    expect(await within(held, 15_000, 'the long poll to answer')).toEqual(drained);
    // Its handler found ctx.draining aborted as it began: it answered without waiting for a drain nobody would tell it of.
    expect(await within(queued, 15_000, 'the queued call to answer')).toEqual(drained);
    await within(closing, 15_000, 'server close');
  });
});
