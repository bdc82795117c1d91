import { formatAddress, type ByteConn, type Runtime } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { cleanups } from '@skein/test-utils';

const cleanup = cleanups();

/** Node's runtime, counting the socket writes (ByteConn.write calls) of every connection it makes or accepts. */
function countingRuntime(): { runtime: Runtime; socketWrites: () => number } {
  let writes = 0;
  const count = (conn: ByteConn): ByteConn => {
    const write = conn.write.bind(conn);
    conn.write = (chunks) => (writes++, write(chunks));
    return conn;
  };
  const runtime: Runtime = {
    name: nodeRuntime.name,
    clock: nodeRuntime.clock,
    connect: async (address, options) => count(await nodeRuntime.connect(address, options)),
    listen: (address, accept, options) => nodeRuntime.listen(address, (conn) => accept(count(conn)), options),
  };
  return { runtime, socketWrites: () => writes };
}

const N = 20_000;
const item = new Uint8Array(32).fill(7);

/**
 * A server and a client on loopback, each with its own counting runtime. The router's `feed`
 * sends N items of 32 B with the given loop, `sink` reads the client's items and answers their count.
 */
async function pair(feed: (write: (msg: Uint8Array) => Promise<void>) => Promise<void>) {
  const server = countingRuntime();
  const client = countingRuntime();
  const rpc = new RpcServer({
    dispatch: createRouter({
      ping: async () => undefined,
      feed: async (req) => {
        await feed((msg) => req.stream!.write(msg));
        return undefined;
      },
      sink: async (req) => {
        let n = 0;
        for await (const got of req.stream!) if (got.msg.length === 32) n++;
        return new Uint8Array([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff]);
      },
    }),
    closeWaitMs: 0,
  });
  cleanup.push(() => rpc.close());
  const a = await rpc.listen(tcpTransport(server.runtime), '127.0.0.1:0');
  const stream = await ClientStream.connect({ transport: tcpTransport(client.runtime), address: formatAddress(a) });
  cleanup.push(() => stream.destroy());
  await stream.call('ping'); // the hello and a first call are behind us
  return { stream, serverWrites: server.socketWrites, clientWrites: client.socketWrites };
}

/** The server's socket writes for one stream of N items sent by `feed`. */
async function serverWritesForOneStream(feed: (write: (msg: Uint8Array) => Promise<void>) => Promise<void>): Promise<number> {
  const { stream, serverWrites } = await pair(feed);
  const before = serverWrites();
  const s = stream.openStream('feed');
  let n = 0;
  for await (const got of s) {
    if (got.msg.length !== 32) throw new Error(`item ${n} is ${got.msg.length} bytes`);
    n++;
  }
  await s.result;
  expect(n).toBe(N);
  return serverWrites() - before;
}

describe('stream items share socket writes', () => {
  it('N items of 32 B, each awaited, leave in far fewer than N socket writes', async () => {
    const writes = await serverWritesForOneStream(async (write) => {
      for (let i = 0; i < N; i++) await write(item);
    });
    // Each item alone would take N writes; batched, a write carries tens of items (the
    // transport's batch limit is 128 parts, an item is 2).
    expect(writes).toBeLessThan(N / 20);
  });

  it('so do items an async generator yields, several microtasks apart', async () => {
    async function* items(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < N; i++) yield item;
    }
    const writes = await serverWritesForOneStream(async (write) => {
      for await (const it of items()) await write(it);
    });
    expect(writes).toBeLessThan(N / 20);
  });

  it('and so do a client stream\'s items', async () => {
    const { stream, clientWrites } = await pair(async () => {});
    const before = clientWrites();
    const s = stream.openStream('sink');
    for (let i = 0; i < N; i++) await s.write(item);
    s.end();
    const count = (await s.result).msg;
    expect(count[0]! | (count[1]! << 8) | (count[2]! << 16)).toBe(N);
    expect(clientWrites() - before).toBeLessThan(N / 20);
  });
});
