import { ErrorCode, RpcError, systemClock } from '@skein/core';
import { ManualClock, cleanups, deferred, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type ActionHandler, type FailoverPoolOptions, type ServerView } from '../src/index.js';
import { transport } from './harness.js';
import { callOn, localServer, str, textOf } from './pool-harness.js';

/*
 * A FailoverPool whose strategy insists on no server places a call that its pick's server would
 * keep waiting for room (every open window full, even while it opens another connection) on another healthy server
 * that sends it at once; a strategy that insists (a hash key, the leader, a picker) keeps it
 * there. Real TCP servers in this process; where each call ran is read off their answers and
 * counts, and placement is read as the calls are made, never by how long anything took.
 */

const cleanup = cleanups();

/**
 * A server named `name` whose `hold` calls wait until `open()`, and whose other actions answer
 * its name at once (but those `own` gives); `maxInFlightPerConn` is the cap it names in its
 * hello, which a client's window keeps to.
 */
async function server(name: string, maxInFlightPerConn?: number, own: Record<string, ActionHandler> = {}) {
  const gate = deferred();
  const answer = () => str(name);
  const table = { warm: answer, work: answer, once: answer, retried: answer, bounce: answer, hold: () => gate.promise.then(answer), ...own };
  const s = await localServer(table, '127.0.0.1:0', { maxInFlightPerConn });
  // Let go before the server closes (cleanups run last first), so its close need not wait.
  cleanup.push(() => s.server.close());
  cleanup.push(() => gate.resolve());
  return { ...s, name, open: () => gate.resolve() };
}

/** A pool over `servers`, one connection to each (`maxConnections: 1`), both up before the test's calls. */
async function upPool(servers: { address: string; open(): void }[], opts: Omit<FailoverPoolOptions, 'transport' | 'servers'>): Promise<FailoverPool> {
  const pool = new FailoverPool({ transport, servers: servers.map((s) => s.address), ...opts, pool: { maxConnections: 1, ...opts.pool } });
  cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
  // Held calls let go first, so that the pool's close (which lets calls finish) need not wait, even after a failed test.
  for (const s of servers) cleanup.push(() => s.open());
  // By name (no strategy's turn spent): each server's pool ready, its hello's answer (its cap) in.
  for (const s of servers) expect(await callOn(pool, s.address, 'warm')).toBeTypeOf('string');
  return pool;
}

const statsOf = (pool: FailoverPool, address: string) => pool.stats().find((s) => s.address === address)!;
const call = (pool: FailoverPool, action: string, opts = {}): Promise<string> => pool.call(action, new Uint8Array(), opts).then(textOf);

describe('FailoverPool: a call its server has no room for goes to one with room', () => {
  it.each(['round-robin', 'round-robin-by-turn', 'weighted', 'least-active'] as const)("'%s': with A full (window 1, one connection) the calls picked for it go to B at once; A runs exactly its window", async (strategy) => {
    const a = await server('A', 1);
    const b = await server('B');
    // No retries: a placement is no retry.
    const pool = await upPool([a, b], { strategy, retries: 0 });
    // By name: A's one slot held. Then calls through the strategy, some of them picked for A.
    const held = callOn(pool, a.address, 'hold');
    const calls = Array.from({ length: 20 }, () => call(pool, 'work'));
    // Placed as they were made: none waits on A (with round-robin, 10 did, behind its held call, while B sat idle).
    expect([statsOf(pool, a.address).queued, statsOf(pool, a.address).inFlight]).toEqual([0, 1]);
    // B answers them all while A's call still holds its slot.
    expect(await Promise.all(calls)).toEqual(Array(20).fill('B'));
    expect(await Promise.race([held, 'still held'])).toBe('still held');
    a.open();
    expect(await held).toBe('A');
    expect(a.counts).toEqual({ warm: 1, hold: 1 });
    expect(b.counts).toEqual({ warm: 1, work: 20 });
  });

  it('round-robin-by-turn: a call that is not idempotent, placed on a full server, runs once, on the server with room', async () => {
    const a = await server('A', 1);
    const b = await server('B');
    const pool = await upPool([a, b], { strategy: 'round-robin-by-turn' });
    // One turn: both picked for the same server (A, the first in turn), whose one slot the first holds.
    const held = call(pool, 'hold');
    const once = call(pool, 'once', { idempotent: false });
    expect(statsOf(pool, a.address).queued).toBe(0);
    expect(await once).toBe('B');
    a.open();
    expect(await held).toBe('A');
    // Every call settled: nothing of it waits anywhere to run again.
    expect(pool.stats().map((s) => s.inFlight + s.queued)).toEqual([0, 0]);
    expect([a.counts.once, b.counts.once]).toEqual([undefined, 1]);
  });

  it('least-active: a call placed off a full server was not tried there: its retry goes there, not back to the server that failed it', async () => {
    const a = await server('A', 1);
    const refuse = deferred();
    const b = await server('B', undefined, { retried: () => refuse.promise.then(() => Promise.reject(new RpcError(ErrorCode.Method, 'not here'))) });
    const pool = await upPool([a, b], { strategy: 'least-active', shouldFailover: () => 'next' });
    // By name: A full with one call, B loaded with two.
    const heldA = callOn(pool, a.address, 'hold');
    const heldB = [callOn(pool, b.address, 'hold'), callOn(pool, b.address, 'hold')];
    // Picked for A (1 in flight against 2), which has no room for it: placed on B.
    const retried = call(pool, 'retried', { idempotent: true });
    expect([statsOf(pool, a.address).queued, statsOf(pool, b.address).inFlight]).toEqual([0, 3]);
    // B's holds end (B now the less loaded), then B fails the call: its retry goes to A, the
    // server it was not tried on, and waits there for room, not sent back to B.
    b.open();
    expect(await Promise.all(heldB)).toEqual(['B', 'B']);
    refuse.resolve();
    await waitFor(() => statsOf(pool, a.address).queued === 1 || (b.counts.retried ?? 0) > 1 || undefined, { what: 'the retry placed' });
    expect(b.counts.retried).toBe(1);
    a.open();
    expect(await heldA).toBe('A');
    expect(await retried).toBe('A');
    expect([a.counts.retried, b.counts.retried]).toEqual([1, 1]);
  });

  it("a server's redirect stands: the call it sends to a full server waits there, though another has room", async () => {
    const a = await server('A', 1);
    const b = await server('B', undefined, { bounce: () => Promise.reject(new RpcError(ErrorCode.Method, 'ask A')) });
    const c = await server('C');
    const shouldFailover = (_err: unknown, at: { address: string }) => (at.address === b.address ? { redirect: a.address } : undefined);
    const pool = await upPool([a, b, c], { strategy: 'round-robin', shouldFailover });
    const held = callOn(pool, a.address, 'hold');
    // Picked for A (the rotation starts there), full: placed on B, the next in turn, which sends it back to A.
    const bounced = call(pool, 'bounce', { idempotent: true });
    await waitFor(() => statsOf(pool, a.address).queued === 1 || c.counts.bounce === 1 || undefined, { what: 'the redirect placed' });
    expect([a.counts.bounce, b.counts.bounce, c.counts.bounce]).toEqual([undefined, 1, undefined]);
    a.open();
    expect(await held).toBe('A');
    expect(await bounced).toBe('A');
  });

  it('maxConnections 2: with A\'s one open connection full the call goes to B, though A could open a second (sending now beats waiting for a connect)', async () => {
    const a = await server('A', 1);
    const b = await server('B');
    // Below its cap: A has one connection open (the warm-up's) and may open another.
    const pool = await upPool([a, b], { strategy: 'round-robin', retries: 0, pool: { maxConnections: 2 } });
    const held = callOn(pool, a.address, 'hold');
    // Picked for A (the rotation starts there): queued on A while it would connect, so placed on B.
    const work = call(pool, 'work');
    expect(statsOf(pool, a.address).queued).toBe(0);
    expect(await work).toBe('B');
    a.open();
    expect(await held).toBe('A');
    expect([a.counts.work, b.counts.work]).toEqual([undefined, 1]);
  });

  it("a server with room whose breaker is open takes no placement: the call waits on its full server", async () => {
    const a = await server('A', 1);
    const b = await server('B', undefined, { fail: () => Promise.reject(new RpcError(ErrorCode.Internal, 'down')) });
    // One failure opens B's breaker, for longer than the test.
    const pool = await upPool([a, b], { strategy: 'round-robin', retries: 0, circuitBreaker: { minCalls: 1, failureRatio: 0.5, openMs: 60_000 } });
    expect(await callOn(pool, b.address, 'fail')).toBeInstanceOf(RpcError);
    expect(statsOf(pool, b.address).circuit).toBe('open');
    const held = callOn(pool, a.address, 'hold');
    // Picked for A, full; B has room but is not healthy: no target, so the call waits on A.
    const work = call(pool, 'work');
    expect([statsOf(pool, a.address).queued, statsOf(pool, b.address).inFlight]).toEqual([1, 0]);
    a.open();
    expect([await held, await work]).toEqual(['A', 'A']);
    expect(b.counts.work).toBeUndefined();
  });

  it("a half-open A's probe placed on B is given back: A still admits its one probe, which closes its breaker", async () => {
    const fail = { fail: () => Promise.reject(new RpcError(ErrorCode.Internal, 'down')) };
    const a = await server('A', 1, fail);
    const b = await server('B', undefined, fail);
    // Breakers on a clock the test drives (the connections' own on the system's): one failure opens, one probe decides.
    const clock = new ManualClock();
    const circuitBreaker = { minCalls: 1, failureRatio: 0.5, openMs: 1_000, halfOpenCalls: 1 };
    const pool = await upPool([a, b], { strategy: 'round-robin', retries: 0, clock, circuitBreaker, pool: { clock: systemClock } });
    expect(await callOn(pool, a.address, 'fail')).toBeInstanceOf(RpcError);
    // By name (no breaker stops it): A's one slot held while its breaker is open.
    const held = callOn(pool, a.address, 'hold');
    clock.advance(1_000);
    // Picked for A, now half-open, as its one probe; A is full: placed on B, the probe's place given back.
    expect(await call(pool, 'work')).toBe('B');
    expect(statsOf(pool, a.address).circuit).toBe('half-open');
    // B's breaker opens (two failures against its two answers): only A is left, and its probe place is free, so the next call waits on A as its probe.
    for (let i = 0; i < 2; i++) expect(await callOn(pool, b.address, 'fail')).toBeInstanceOf(RpcError);
    expect(statsOf(pool, b.address).circuit).toBe('open');
    const probe = call(pool, 'work');
    expect(statsOf(pool, a.address).queued).toBe(1);
    a.open();
    expect([await held, await probe]).toEqual(['A', 'A']);
    expect(statsOf(pool, a.address).circuit).toBe('closed');
  });

  it('with every server full the call waits where it was placed, stays there when another frees room, and runs when its own does', async () => {
    const [a, b, c] = [await server('A', 1), await server('B', 1), await server('C', 1)];
    const pool = await upPool([a, b, c], { strategy: 'round-robin' });
    const held = [a, b, c].map(() => call(pool, 'hold'));
    // Picked for A again (round-robin), which is full, as are the others: it waits on A.
    const work = call(pool, 'work');
    expect([a, b, c].map((s) => statsOf(pool, s.address).queued)).toEqual([1, 0, 0]);
    // B frees its slot: the call already waiting stays where it waits (only an arriving call is placed).
    b.open();
    expect(await held[1]).toBe('B');
    expect(statsOf(pool, a.address).queued).toBe(1);
    a.open();
    expect(await held[0]).toBe('A');
    expect(await work).toBe('A');
    expect([a, b, c].map((s) => s.counts.work)).toEqual([1, undefined, undefined]);
  });
});

describe('FailoverPool: a strategy that insists on a server keeps a call waiting there for room', () => {
  /** Always A, healthy or not: the application's choice. */
  const toA = (address: string) => (_key: string | undefined, servers: readonly ServerView[]) => servers.find((s) => s.address === address);

  it.each([
    ['hash', 'a key on A'],
    ['leader', 'the leader A'],
    ['picker', 'a picker choosing A'],
  ] as const)("'%s': the call for %s waits on A while B is idle, and runs on A", async (kind, _what) => {
    const a = await server('A', 1);
    const b = await server('B');
    const servers = [a, b];
    const pool = await upPool(servers, { strategy: kind === 'picker' ? toA(a.address) : kind });
    // For 'hash': a key the ring puts on A, found by asking (the ring is the pool's own).
    let route: string | undefined;
    if (kind === 'hash') {
      for (let i = 0; route === undefined; i++) if ((await call(pool, 'warm', { route: `k${i}` })) === 'A') route = `k${i}`;
    }
    const held = call(pool, 'hold', { route });
    const waits = call(pool, 'work', { route });
    expect([statsOf(pool, a.address).queued, statsOf(pool, b.address).inFlight]).toEqual([1, 0]);
    a.open();
    expect([await held, await waits]).toEqual(['A', 'A']);
    expect(b.counts.work).toBeUndefined();
  });
});
