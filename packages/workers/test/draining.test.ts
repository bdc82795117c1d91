import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger } from '@skein/core';
import { createClient } from '@skein/api';
import { ClientStream, RpcServer } from '@skein/stream';
import { within, cleanups } from '@skein/test-utils';
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
});
