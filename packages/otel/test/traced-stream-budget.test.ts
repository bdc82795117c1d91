import { clientStream, createClient, implement, serverStream, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, deferred, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { telemetry } from './otel-harness.js';
import { startTraced, stopTraced } from './traced-server.js';

const Feed = service('Feed', { upload: clientStream<number, number>(), count: serverStream<{ to: number }, number>() });
const WINDOW = 16 * 1024;

const cleanup = cleanups();

/**
 * tracedDispatch passes on its inner dispatch's word on whether a stream's handler reads items
 * (Dispatch.readsItems): a traced server stream holds none of its connection's
 * `streamBudgetBytes`, so it opens while uploads fill the budget, as it does untraced.
 */
describe('a traced service dispatch with its stream budget full', () => {
  it('opens and completes a server-streaming call', async () => {
    const { otel } = telemetry();
    const gate = deferred();
    let uploads = 0;
    const services = [
      implement(Feed, {
        async upload() {
          uploads++;
          await gate.promise;
          return 0;
        },
        async *count({ to }) {
          for (let i = 1; i <= to; i++) yield i;
        },
      }),
    ];
    const s = await startTraced(services, otel, { closeWaitMs: 0, streamWindowBytes: WINDOW, streamBudgetBytes: 2 * WINDOW });
    cleanup.push(() => (gate.resolve(), stopTraced(s)));
    const feed = createClient(Feed, s.peer, { codec: msgpackCodec });
    // Open until the gate (an upload that ended would hold only its unread item of the budget, not its window).
    const open = async function* (): AsyncGenerator<number> {
      yield 1;
      await gate.promise;
    };
    const held = Array.from({ length: 2 }, () => feed.upload(open()));
    await waitFor(() => uploads === 2, { what: 'two uploads hold the budget' });
    const third = await feed.upload([1]).catch((err: unknown) => err);
    expect(third instanceof RpcError && third.code === ErrorCode.Overloaded).toBe(true);
    for (let i = 0; i < 3; i++) {
      const got: number[] = [];
      for await (const v of await feed.count({ to: 2 })) got.push(v);
      expect(got).toEqual([1, 2]);
    }
    expect(s.server.stats().streamsRefused).toBe(1);
    gate.resolve();
    expect(await Promise.all(held)).toEqual([0, 0]);
  });
});
