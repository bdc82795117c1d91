import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger } from '@skein/core';
import { ClientStream, RpcServer, type ServerRequest } from '@skein/stream';
import { deferred, portOf, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createServiceDispatch, implement, serverStream, service } from '../src/index.js';
import { transport } from './harness.js';

const cleanup = cleanups();

const Feed = service('Feed', { watch: serverStream<void, number>() });

describe('a server-streaming method', () => {
  it('holds none of the items a client sends it: nobody could ever read them', async () => {
    const release = deferred();
    const seen: ServerRequest[] = [];
    const dispatch = createServiceDispatch({
      codec: msgpackCodec,
      logger: silentLogger,
      services: [
        implement(Feed, {
          async *watch() {
            await release.promise;
            yield 7;
          },
        }),
      ],
    });
    const server = new RpcServer({ dispatch: { dispatch: (req) => (seen.push(req), dispatch.dispatch(req)) } });
    const a = await server.listen(transport, '127.0.0.1:0');
    cleanup.push(() => server.close());
    const client = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}`, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    // The typed client sends a server stream no items; a hostile one sends its whole window.
    const stream = client.openStream('Feed.watch');
    const item = new Uint8Array(64 * 1024);
    for (let i = 0; i < 15; i++) await stream.write(item);
    // Pings are answered in order: once this one is, the server has read every item.
    await client.ping();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.stream!.buffered).toBe(0);
    // The stream itself goes on as if nothing had been sent.
    release.resolve();
    const got: Uint8Array[] = [];
    for await (const r of stream) got.push(r.msg);
    expect(got.map((m) => msgpackCodec.decode(m))).toEqual([7]);
    await stream.result;
  });
});
