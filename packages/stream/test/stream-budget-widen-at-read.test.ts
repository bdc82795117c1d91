import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type Authenticate } from '../src/index.js';
import { ITEM_OVERHEAD } from '../src/wire/extension-frames.js';
import { readU32, transport, u32 } from './harness.js';

/*
 * On a connection promoted to peer after its hello, a stream is widened to the peers' window by
 * a grant, which its client takes to mean that the handler runs (`StreamCall.heard`). So the
 * grant comes at the handler's first read, never as the stream is admitted: a handler that
 * refuses it unrun (bare Overloaded, reading nothing) leaves it unheard, as on any connection.
 * Decided by what the client heard, in the order the server wrote it; no time.
 */

const cleanup = cleanups();

const KiB = 1024;
const ITEM = new Uint8Array(KiB - ITEM_OVERHEAD).fill(1);
const tokens: Authenticate = ({ text }) => ({ principal: text });

describe("a stream on a connection promoted to peer, widened to the peers' window", () => {
  it('is not heard from a handler that refuses it without reading, and widened once a handler reads', async () => {
    const server = new RpcServer({
      dispatch: createRouter({
        refuse: (req) => req.fail(ErrorCode.Overloaded),
        count: async (req) => {
          let n = 0;
          for await (const _ of req.stream!) n++;
          return u32(n);
        },
      }),
      authenticate: tokens,
      requireAuth: false,
      closeWaitMs: 0,
      clients: { streamWindowBytes: 16 * KiB },
      peers: { admit: (c) => typeof c.principal === 'string' && c.principal.startsWith('peer-'), streamWindowBytes: 64 * KiB },
    });
    const { port } = (await server.listen(transport, '127.0.0.1:0')) as { port: number };
    cleanup.push(() => server.close());
    const client = await ClientStream.connect({ transport, address: `127.0.0.1:${port}`, credentials: 'peer-1', keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    await client.ping();
    await waitFor(() => server.stats().peers === 1, { what: 'the connection promoted by its credentials' });
    expect(client.hello.agreed?.streams?.toServer).toBe(16 * KiB);

    const refused = client.openStream('refuse');
    const err = await refused.result.catch((e: unknown) => e);
    expect(err instanceof RpcError && err.code === ErrorCode.Overloaded && err.retry === 'safe').toBe(true);
    // Nothing but the refusal came: the handler never ran, as far as the client can tell.
    expect(refused.heard).toBe(false);

    // A reading handler widens it: 64 items of 1 KiB go (past 16 of them, only the grant lets them).
    const counted = client.openStream('count');
    await within(
      (async () => {
        for (let i = 0; i < 64; i++) await counted.write(ITEM);
      })(),
      5_000,
      "writes within the peers' window",
    );
    counted.end();
    expect(readU32((await counted.result).msg)).toBe(64);
    expect(counted.heard).toBe(true);
  });
});
