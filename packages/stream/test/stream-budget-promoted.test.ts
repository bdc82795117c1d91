import { ErrorCode, RpcError } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { cleanups, deferred, suiteCerts, testTls, waitFor, within, type Deferred } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type Authenticate, type RpcServerOptions, type ServerRequest, type StreamCall } from '../src/index.js';
import { ITEM_OVERHEAD } from '../src/wire/extension-frames.js';
import { readU32, transport, u32 } from './harness.js';

/*
 * A connection shown to be a peer after its hello (its credentials) takes the peers' stream
 * window and budget for the streams it opens from then on. The window its hello's answer named
 * (the clients') is fixed on the wire: each new stream starts with that credit. The server widens
 * a stream to the peers' window with a grant at its handler's first read (a grant tells the
 * client that the handler runs), or narrows it by holding grants back;
 * the stream reserves the larger of the two, and less as grants are held back (stream-budget.ts).
 * A connection that its TLS certificate makes a peer at its hello is answered with the peers'
 * window. What decides each test is whether a stream opens or is refused after frames the server
 * read in order; never how long anything took.
 */

const cleanup = cleanups();

const KiB = 1024;
/** An item of 1 KiB of credit. */
const ITEM = new Uint8Array(KiB - ITEM_OVERHEAD).fill(5);

/** `peer-…` credentials make a connection a peer once accepted (after its hello). */
const tokens: Authenticate = ({ text }) => ({ principal: text });
const admit = (c: { principal?: unknown }): boolean => typeof c.principal === 'string' && c.principal.startsWith('peer-');

const refusedSafe = (err: unknown): boolean => err instanceof RpcError && err.code === ErrorCode.Overloaded && err.retry === 'safe';

async function writeItems(s: StreamCall, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await s.write(ITEM);
}

/** `hold` handlers keep their items unread until `read(i, n)` lets handler `i` read `n` of them; each answers with the count it read once its stream ends. */
async function promotedServer(opts: Partial<RpcServerOptions>) {
  const held: ServerRequest[] = [];
  const allowance: { n: number; wake: () => void; done: Deferred<void> }[] = [];
  const server = new RpcServer({
    dispatch: createRouter({
      hold: async (req) => {
        const i = held.push(req) - 1;
        const a = (allowance[i] ??= { n: 0, wake: () => {}, done: deferred<void>() });
        let count = 0;
        const it = req.stream![Symbol.asyncIterator]();
        for (;;) {
          while (a.n === 0) await new Promise<void>((r) => (a.wake = r));
          a.n--;
          const next = await it.next();
          if (next.done) return a.done.resolve(), u32(count);
          count++;
          if (a.n === 0) a.done.resolve();
        }
      },
    }),
    authenticate: tokens,
    requireAuth: false,
    closeWaitMs: 0,
    ...opts,
  });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => (allowance.forEach((x) => ((x.n = Infinity), x.wake())), server.close()));
  const client = await ClientStream.connect({ transport, address: `127.0.0.1:${(a as { port: number }).port}`, credentials: 'peer-1', keepaliveMs: 0 });
  cleanup.push(() => client.destroy());
  await client.ping();
  await waitFor(() => server.stats().peers === 1, { what: 'the connection promoted by its credentials' });
  /** Lets handler `i` read `n` more items; resolves once it read them. */
  const read = async (i: number, n: number): Promise<void> => {
    const x = (allowance[i] ??= { n: 0, wake: () => {}, done: deferred<void>() });
    x.done = deferred<void>();
    x.n += n;
    x.wake();
    await x.done.promise;
  };
  return { server, client, held, read };
}

describe("a connection promoted to peer after its hello: its new streams take the peers' window and budget", () => {
  it("widens each stream to the peers' window at its handler's first read and holds the connection to the peers' budget by that window", async () => {
    const { client, held, read } = await promotedServer({
      clients: { streamWindowBytes: 16 * KiB, streamBudgetBytes: 64 * KiB },
      peers: { admit, streamWindowBytes: 64 * KiB, streamBudgetBytes: 256 * KiB },
    });
    // Its hello came while it was a client: the clients' window is on the wire.
    expect(client.hello.agreed?.streams?.toServer).toBe(16 * KiB);
    // The peers' budget holds four of the peers' windows (sixteen of the clients').
    const streams = Array.from({ length: 5 }, () => client.openStream('hold'));
    await client.ping();
    expect(held).toHaveLength(4);
    expect(refusedSafe(await streams[4]!.result.catch((err: unknown) => err))).toBe(true);
    // Each may send the peers' window: the grant comes at its handler's first read (without it,
    // the 17th write waits for good), and the items past that one wait unread.
    const first = read(0, 1);
    await within(writeItems(streams[0]!, 64), 5_000, "writes within the peers' window");
    await first;
    await client.ping();
    expect(held[0]!.stream!.buffered).toBe(63 * KiB);
    for (const s of streams.slice(0, 4)) s.cancel();
  });

  it("narrows a stream to the peers' smaller window by holding grants back, giving back the budget it no longer needs", async () => {
    const { client, held, read } = await promotedServer({
      clients: { streamWindowBytes: 64 * KiB, streamBudgetBytes: 256 * KiB },
      peers: { admit, streamWindowBytes: 16 * KiB, streamBudgetBytes: 80 * KiB },
    });
    expect(client.hello.agreed?.streams?.toServer).toBe(64 * KiB);
    // It starts with the 64 KiB the wire gave it, and reserves that.
    const first = client.openStream('hold');
    await writeItems(first, 64);
    await client.ping();
    expect(refusedSafe(await client.openStream('hold').result.catch((err: unknown) => err))).toBe(true);
    // Read down to the peers' window: nothing granted back meanwhile, so it holds 16 KiB at most from now on.
    await read(0, 48);
    const second = client.openStream('hold');
    await second.write(ITEM);
    await client.ping();
    expect(held).toHaveLength(2);
    // The first stream goes on within the peers' window, to its end.
    const rest = writeItems(first, 32).then(() => first.end());
    await read(0, 32 + 16);
    await rest;
    second.cancel();
    await read(0, 1); // its end
    expect(readU32((await first.result).msg)).toBe(96);
  });
});

const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);

describe('a connection its TLS certificate makes a peer at its hello', () => {
  it("is answered with the peers' window, and held to the peers' budget", async () => {
    const held: ServerRequest[] = [];
    const gate = deferred();
    const server = new RpcServer({
      dispatch: createRouter({ hold: (req) => (held.push(req), gate.promise.then(() => undefined)) }),
      closeWaitMs: 0,
      clients: { streamWindowBytes: 16 * KiB, streamBudgetBytes: 64 * KiB },
      peers: { admit: (c) => c.identity?.subject === 'CN=test-client', streamWindowBytes: 64 * KiB, streamBudgetBytes: 128 * KiB },
    });
    const { port } = (await server.listen(tcpTransport(nodeRuntime, { tls: mtls() }), '127.0.0.1:0')) as { port: number };
    cleanup.push(() => (gate.resolve(), server.close()));
    const client = await ClientStream.connect({ transport: tcpTransport(nodeRuntime, { tls: clientTls(certs.client) }), address: `127.0.0.1:${port}`, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    await client.ping();
    expect(server.stats().peers).toBe(1);
    expect(client.hello.agreed?.streams?.toServer).toBe(64 * KiB);
    const streams = Array.from({ length: 3 }, () => client.openStream('hold'));
    await client.ping();
    expect(held).toHaveLength(2);
    expect(refusedSafe(await streams[2]!.result.catch((err: unknown) => err))).toBe(true);
  });
});
