import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { ManualClock, cleanups, deferred, portOf, startTcpRelay, waitFor, within, type Deferred, type TcpRelay } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, RpcServer, createRouter, type ActionHandler, type ServerRequest, type StreamCall, type StreamCaller } from '../src/index.js';
import { transport } from './harness.js';

/*
 * A pool's stream waits while every connection up is at its server's cap on open streams and
 * another connection is on its way. It opens as soon as a stream on one of them ends, however
 * that one ended (answered, failed, cancelled, left by a `break`, past its deadline), not only
 * once the new connection is up: it waited for that or for the pool's next check (up to a
 * second, or for good behind a connect that hangs). The window's room was told to the pool at
 * once (`ClientStream.onRoom`), a stream's room not at all.
 *
 * Not decided by timing: the pools keep their time on a ManualClock the test never advances,
 * so their checks never run (nor their connections' ticks: a stream's deadline is the server's,
 * which answers Timeout at it), and their second connection hangs in its connect (a muted
 * relay): a waiting stream opens only if the end of another opens it. No transparent retry or
 * failover: a waiting stream refused by its server (Overloaded, had the stream before it not
 * freed its place there first: a server reads a cancel before the open written after it) fails
 * here rather than open on a second try.
 */

const cleanup = cleanups();
/** The server's cap per connection, on calls and on open streams alike. */
const CAP = 2;
const utf8 = new TextEncoder();
const idOf = (req: ServerRequest): string => new TextDecoder().decode(req.msg);

/** The streams the server holds open, by the id their opening carried: the test answers them. */
const held = new Map<string, { req: ServerRequest; answer: Deferred<Uint8Array> }>();

/** Sends one item (so the client knows the stream is open on the server), then holds it until the test answers it or the client cancels it. */
const hold: ActionHandler = async (req) => {
  const answer = deferred<Uint8Array>();
  held.set(idOf(req), { req, answer });
  req.signal.addEventListener('abort', () => answer.resolve(new Uint8Array(0)), { once: true });
  await req.stream!.write(new Uint8Array([1]));
  return answer.promise;
};

/** A server capped at CAP, behind a relay: `relay.mute()` makes the pool's next connect hang. */
async function capped(): Promise<TcpRelay> {
  const server = new RpcServer({ dispatch: createRouter({ hold }, silentLogger), maxInFlightPerConn: CAP, closeWaitMs: 0, logger: silentLogger });
  cleanup.push(() => server.close());
  const relay = await startTcpRelay(`127.0.0.1:${portOf(await server.listen(transport, '127.0.0.1:0'))}`);
  cleanup.push(() => relay.close());
  return relay;
}

/** Pool options: two connections, the second of which hangs for the whole test (its connect and first ping are given long). */
const twoConnections = { maxConnections: 2, transparentRetries: 0, stream: { connectTimeoutMs: 120_000, keepaliveTimeoutMs: 120_000 } };

/** Opens a held stream `id` and waits for its first item: open on the server. */
async function opened(pool: StreamCaller, id: string, all: StreamCall[], timeoutMs?: number): Promise<StreamCall> {
  const s = pool.openStream('hold', utf8.encode(id), timeoutMs === undefined ? {} : { timeoutMs });
  all.push(s);
  await within(s[Symbol.asyncIterator]().next(), 10_000, `stream ${id} to open`);
  return s;
}

/** A ConnPool whose one connection up has CAP streams open (`0`, `1`, ...; `0` with `timeoutMs`), and one more (`next`) waiting. */
async function full(timeoutMs?: number) {
  const relay = await capped();
  const clock = new ManualClock();
  const pool = new ConnPool({ transport, address: relay.address, ...twoConnections, clock, logger: silentLogger });
  cleanup.push(() => pool.destroy());
  const all: StreamCall[] = [];
  cleanup.push(() => all.forEach((s) => s.cancel()));
  for (let i = 0; i < CAP; i++) await opened(pool, String(i), all, i === 0 ? timeoutMs : undefined);
  relay.mute();
  return { pool, all, clock, next: waiting(pool, all) };
}

/** Opens stream `next`, which waits in the pool; resolves when it is open on the server. */
function waiting(pool: ConnPool | FailoverPool, all: StreamCall[]): Promise<StreamCall> {
  const next = opened(pool, 'next', all);
  const queued = pool instanceof ConnPool ? pool.stats().queued : pool.stats()[0]!.queued;
  expect(queued).toBe(1);
  expect(held.has('next')).toBe(false);
  return next;
}

describe("a pool's stream waiting for room on its server's cap on open streams", () => {
  it('opens once a stream before it is answered, no check of the pool run', async () => {
    held.clear();
    const { pool, next, clock } = await full();
    held.get('1')!.answer.resolve(new Uint8Array([9]));
    await next;
    expect(held.has('next')).toBe(true);
    // On the connection freed: the second one still hangs in its connect, and no check ran.
    expect(pool.stats().connections).toBe(1);
    expect(clock.time).toBe(0);
  });

  it('opens once a stream before it fails with its server’s error', async () => {
    held.clear();
    const { next, all } = await full();
    held.get('0')!.answer.reject(new Error('boom'));
    await expect(all[0]!.result).rejects.toBeInstanceOf(Error);
    await next;
    expect(held.has('next')).toBe(true);
  });

  it('opens once a stream before it is cancelled, and its server takes it: the cancel went first', async () => {
    held.clear();
    const { next, all } = await full();
    all[1]!.cancel();
    const s = await next;
    // Open on the server, not refused there (no retry would hide an Overloaded): the cancel freed the place before the open came.
    expect(held.has('next')).toBe(true);
    held.get('next')!.answer.resolve(new Uint8Array([5]));
    expect([...(await within(s.result, 10_000, 'the stream that waited')).msg]).toEqual([5]);
  });

  it('opens once a stream before it is left as a `break` out of its loop leaves it', async () => {
    held.clear();
    const { next, all } = await full();
    // What a `break` calls (its one item was read already: a loop here would wait for a second).
    await all[0]![Symbol.asyncIterator]().return!();
    await next;
    expect(held.has('next')).toBe(true);
  });

  it('opens once a stream before it is past its deadline (answered Timeout by its server)', async () => {
    held.clear();
    const { next, all } = await full(300);
    const err = await within(all[0]!.result.catch((e: unknown) => e), 10_000, 'the stream with a deadline');
    expect((err as RpcError).code).toBe(ErrorCode.Timeout);
    await next;
    expect(held.has('next')).toBe(true);
  });

  it('opens before a stream opened after it, in the turn a stream ended (its reader opening its next one)', async () => {
    held.clear();
    const { pool, all, next } = await full();
    // What a loop that opens its next stream once its last one ended does: its opening comes
    // before the pool's flush of those waiting, a microtask away. The room freed is the waiting one's.
    void all[1]!.result.then(() => {
      const late = pool.openStream('hold', utf8.encode('late'));
      late.result.catch(() => {}); // cancelled at the end
      all.push(late);
    });
    held.get('1')!.answer.resolve(new Uint8Array([9]));
    await waitFor(() => held.has('next') || held.has('late'), { what: 'a stream to open in the room freed' });
    expect(held.has('next')).toBe(true);
    expect(held.has('late')).toBe(false);
    await next;
    // The late one waits in its turn, behind it.
    expect(pool.stats().queued).toBe(1);
  });

  it('cancel after cancel, each waiting stream opens at once and none is refused', async () => {
    held.clear();
    const { pool, all, next: first } = await full();
    let next = first;
    for (let i = 0; i < 20; i++) {
      all.find((s) => !s.isDone)!.cancel();
      await next;
      expect(held.has('next')).toBe(true);
      held.delete('next');
      if (i < 19) next = waiting(pool, all);
    }
    expect(pool.stats()).toMatchObject({ connections: 1, queued: 0 });
  });

  it("a FailoverPool's stream waiting in its server's pool opens once a stream before it ends", async () => {
    held.clear();
    const relay = await capped();
    const clock = new ManualClock();
    const pool = new FailoverPool({ transport, servers: [relay.address], retries: 0, clock, pool: { ...twoConnections, clock }, logger: silentLogger });
    cleanup.push(() => pool.close());
    const all: StreamCall[] = [];
    cleanup.push(() => all.forEach((s) => s.cancel()));
    for (let i = 0; i < CAP; i++) await opened(pool, String(i), all);
    relay.mute();
    const next = waiting(pool, all);
    all[0]!.cancel();
    await next;
    expect(held.has('next')).toBe(true);
    expect(pool.stats()[0]!.connections).toBe(1);
  });
});
