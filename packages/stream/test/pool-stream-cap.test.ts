import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { cleanups, heldHandler, portOf, startTcpRelay, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, RpcServer, createRouter, type ActionHandler, type StreamCall, type StreamCaller } from '../src/index.js';
import { transport } from './harness.js';

/*
 * A server takes at most `maxInFlightPerConn` open streams per connection and refuses the next
 * unrun (Overloaded). A pool whose every connection is at that cap opens another connection for
 * the next stream, up to `maxConnections`, as it does for calls when every window is full: placed
 * by window room alone (a stream takes no window slot), the stream went to the full connection and
 * was refused, the other connections never opened. So a relay's pool to a back carried no more
 * streams than one connection takes, and one client holding that many open through the relay
 * kept everyone else's from the back.
 */

const cleanup = cleanups();
/** The server's cap per connection, on calls and on open streams alike. */
const CAP = 4;

/** Sends one item (so the client knows it is open on the server), then holds the stream until it is cancelled. */
const hold: ActionHandler = async (req) => {
  await req.stream!.write(new Uint8Array([1]));
  await new Promise((resolve) => req.signal.addEventListener('abort', resolve, { once: true }));
  return new Uint8Array(0);
};

const echo: ActionHandler = async (req) => req.msg;
/** Calls that take a window slot until the test lets them go. */
const slow = heldHandler();
const held: ActionHandler = (req) => slow.run(req.msg);

async function capped(): Promise<{ server: RpcServer; address: string }> {
  const server = new RpcServer({ dispatch: createRouter({ hold, echo, held }, silentLogger), maxInFlightPerConn: CAP, closeWaitMs: 0, logger: silentLogger });
  cleanup.push(() => server.close());
  return { server, address: `127.0.0.1:${portOf(await server.listen(transport, '127.0.0.1:0'))}` };
}

/** Opens a held stream and waits for its first item: open on the server. */
async function opened(pool: StreamCaller, all: StreamCall[]): Promise<StreamCall> {
  const s = pool.openStream('hold');
  all.push(s);
  await s[Symbol.asyncIterator]().next();
  return s;
}

describe("a pool at its server's cap on open streams per connection", () => {
  it('opens the next stream on another connection, up to maxConnections; past them all the server refuses it unrun', async () => {
    const { server, address } = await capped();
    const pool = new ConnPool({ transport, address, maxConnections: 2, logger: silentLogger });
    cleanup.push(() => pool.destroy());
    const all: StreamCall[] = [];
    cleanup.push(() => all.forEach((s) => s.cancel()));
    for (let i = 0; i < CAP; i++) await opened(pool, all);
    expect(pool.stats().connections).toBe(1);

    // One connection is at the cap: the next stream waits for a second one and opens there.
    for (let i = 0; i < CAP; i++) await opened(pool, all);
    expect(pool.stats().connections).toBe(2);
    expect(server.stats().connections).toBe(2);

    // Both at the cap and no more connections allowed: refused by the server, never run, safe to retry.
    const err = await pool.openStream('hold').result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(ErrorCode.Overloaded);
    expect((err as RpcError).retry).toBe('safe');

    // A stream that ends makes room on its connection again.
    all.shift()!.cancel();
    await opened(pool, all);
    expect(pool.stats().connections).toBe(2);
  });

  it("a FailoverPool's streams to one server go past one connection's cap too", async () => {
    const { address } = await capped();
    const pool = new FailoverPool({ transport, servers: [address], pool: { maxConnections: 3 }, logger: silentLogger });
    cleanup.push(() => pool.close());
    const all: StreamCall[] = [];
    cleanup.push(() => all.forEach((s) => s.cancel()));
    await Promise.all(Array.from({ length: 3 * CAP }, () => opened(pool, all)));
    expect(pool.stats()[0]!.connections).toBe(3);
  });

  /** A pool through a relay whose connections after the first hang (muted), CAP streams open on the first. */
  async function fullFirst(maxConnections: number) {
    const { address } = await capped();
    const relay = await startTcpRelay(address);
    cleanup.push(() => relay.close());
    // The extra connection hangs for the whole test: its connect and first ping are given long.
    const pool = new ConnPool({ transport, address: relay.address, maxConnections, stream: { connectTimeoutMs: 120_000, keepaliveTimeoutMs: 120_000 }, logger: silentLogger });
    cleanup.push(() => pool.destroy());
    const all: StreamCall[] = [];
    cleanup.push(() => all.forEach((s) => s.cancel()));
    for (let i = 0; i < CAP; i++) await opened(pool, all);
    relay.mute();
    return { relay, pool, all };
  }

  it('a call goes past a stream waiting for another connection: the one up has room for it', async () => {
    const { pool, all } = await fullFirst(2);
    all.push(pool.openStream('hold'));
    const reply = pool.call('echo', new Uint8Array([7]), { timeoutMs: 15_000 });
    // Sent at once: the stream alone waits in the pool (the call waited behind it for the pool's next look).
    expect(pool.stats().queued).toBe(1);
    // It waited behind the stream, for a connection that never comes, until its timeout.
    expect([...(await reply).msg]).toEqual([7]);
    expect(pool.stats().connections).toBe(1);
  }, 60_000);

  it('a call that waited for room behind such a stream goes once room comes', async () => {
    const { pool, all } = await fullFirst(2);
    all.push(pool.openStream('hold'));
    // The window full of calls (a stream takes no slot of it), and one more waiting for room.
    const first = Array.from({ length: CAP }, () => pool.call('held'));
    await waitFor(() => slow.running === CAP);
    const next = pool.call('echo', new Uint8Array([7]), { timeoutMs: 15_000 });
    slow.endAll();
    await Promise.all(first);
    // It waited on behind the stream, for a connection that never comes, until its timeout.
    expect([...(await next).msg]).toEqual([7]);
  }, 60_000);

  it('one stream waiting asks for one connection, however many times the pool looks again', async () => {
    const { relay, pool } = await fullFirst(4);
    // It waits (and fails by its timeout) through several of the pool's checks, each of which asked for another connection.
    const err = await pool.openStream('hold', undefined, { timeoutMs: 3000 }).result.catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(ErrorCode.Timeout);
    expect((err as RpcError).retry).toBe('safe');
    expect(relay.connections()).toBe(2);
  }, 60_000);
});
