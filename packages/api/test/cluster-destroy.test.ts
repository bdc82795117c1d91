import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError } from '@skein/core';
import { RpcServer } from '@skein/stream';
import { cleanups, portOf, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createCluster, createServiceDispatch, implement, serverStream, service } from '../src/index.js';
import { transport } from './harness.js';

const Feed = service('Feed', { watch: serverStream<void, number>() });

const cleanup = cleanups();

/** A Feed server whose watch never ends by itself: a number every few ms until its client goes. */
async function feedServer(): Promise<{ address: string; watches: () => number }> {
  let watches = 0;
  const server = new RpcServer({
    dispatch: createServiceDispatch({
      codec: msgpackCodec,
      services: [
        implement(Feed, {
          async *watch(_arg, ctx) {
            watches++;
            for (let i = 0; !ctx.signal.aborted; i++) {
              yield i;
              await new Promise((r) => setTimeout(r, 5));
            }
          },
        }),
      ],
    }),
  });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return { address: `127.0.0.1:${portOf(a)}`, watches: () => watches };
}

// A watch has no deadline: $cluster.close() lets it finish, so a cluster holding one never closed
// (its type's FailoverPool waited for the stream), and the cluster had no way to end it but the
// watch's own cancel. destroy() ends every type's calls and streams at once.
describe('$cluster.destroy()', () => {
  it("ends an open typed stream at once with IO, named by its method, after close() waited for it; close() then settles", async () => {
    const f = await feedServer();
    const rpc = createCluster({ codec: msgpackCodec, transport, types: { feed: { services: [Feed], servers: [{ id: 'f1', address: f.address }] } } });
    cleanup.push(() => rpc.$cluster.close());
    let items = 0;
    const reading = (async () => {
      for await (const _ of await rpc.feed.Feed.watch()) items++;
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    await waitFor(() => items > 0, { what: 'the watch to flow' });
    let closed = false;
    const closing = rpc.$cluster.close().then(() => (closed = true));
    const before = items;
    await waitFor(() => items > before, { what: 'the watch to go on after close()' });
    expect(closed).toBe(false);

    rpc.$cluster.destroy();
    const err = (await reading) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(ErrorCode.IO);
    expect(err.message).toMatch(/^Feed\.watch: .*pool destroyed/);
    await closing;
    expect(f.watches()).toBe(1);
  });

  it('says the cluster is closed (`closed`) from the call of close() or destroy() on: a discovery follower removes nothing then', async () => {
    for (const end of ['close', 'destroy'] as const) {
      const rpc = createCluster({ codec: msgpackCodec, transport, types: { feed: { services: [Feed] } } });
      cleanup.push(() => rpc.$cluster.close());
      expect(rpc.$cluster.closed).toBe(false);
      if (end === 'close') void rpc.$cluster.close();
      else rpc.$cluster.destroy();
      expect(rpc.$cluster.closed).toBe(true);
    }
  });
});
