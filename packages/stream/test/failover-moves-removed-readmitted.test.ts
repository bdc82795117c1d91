import { ErrorCode, type RpcError } from '@skein/core';
import { ManualClock, cleanups, freePort, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type FailoverPoolOptions } from '../src/index.js';
import { transport } from './harness.js';
import { callOn, killedAfterEach, settledYet, str, textOf, type ChildServer } from './pool-harness.js';

// What else moves a call waiting, never sent, for a connection: its server leaving the pool, and
// another server readmitted (its breaker closed, its ejection over). See
// failover-stale-outage.test.ts for a server coming up or added.

const cleanup = cleanups();
const child = killedAfterEach(cleanup);
/** Servers started at once, in the order named (none needs another). */
const children = <N extends string[]>(...names: N) => Promise.all(names.map((n) => child(n))) as Promise<{ [K in keyof N]: ChildServer }>;

/** A pool on a clock the test drives over `servers`, each failure its `shouldFailover` hears noted. */
function poolOf(servers: string[], opts: Omit<FailoverPoolOptions, 'transport' | 'servers' | 'clock'> = {}) {
  const clock = new ManualClock();
  const failures: { address: string; code: ErrorCode }[] = [];
  const pool = new FailoverPool({
    transport,
    clock,
    servers,
    shouldFailover: (err, a) => void failures.push({ address: a.address, code: (err as RpcError).code }),
    ...opts,
  });
  cleanup.push(() => pool.destroy());
  const stateOf = (address: string) => pool.stats().find((st) => st.address === address);
  return { pool, clock, failures, stateOf };
}

/** X (started with the others), stopped (its kernel completes a connect, nothing answers the first ping), first in the list; the calls made wait on its first connect. */
async function waitingOnHungX(x: ChildServer, others: ChildServer[], makeCalls: (pool: FailoverPool) => Promise<unknown>[], opts: Omit<FailoverPoolOptions, 'transport' | 'servers' | 'clock'> = {}) {
  x.proc.kill('SIGSTOP');
  const s = poolOf([x.address, ...others.map((o) => o.address)], { strategy: 'leader', ...opts });
  const calls = makeCalls(s.pool).map((c) => c.catch((e: unknown) => e));
  await waitFor(() => s.stateOf(x.address)?.queued === calls.length || undefined, { what: "the calls waiting on X's first connect" });
  return { ...s, x, calls };
}

describe('a call waiting, unsent, on a server removed from the pool', () => {
  it('goes where a retry would, to a server up, its attempt moved, not spent: idempotent or not, each run once, no failure told', async () => {
    const [x, y] = await children('X', 'Y');
    // No retries: a call failed by the removal (Closed, before) has none left to move with.
    const s = await waitingOnHungX(x, [y], (pool) => [pool.call('who', undefined, { idempotent: true }).then(textOf), pool.call('record', str('once')).then(textOf)], { retries: 0 });
    void s.pool.remove(s.x.address);
    expect(await within(Promise.all(s.calls), 15_000, 'the calls')).toEqual(['Y', 'Y']);
    expect(y.ran()).toEqual(['once']);
    expect(s.failures).toEqual([]);
  });

  it('takes only what is left of its timeout: having waited part of it, it times out on a server that never answers at its first deadline', async () => {
    const [x, y] = await children('X', 'Y');
    const timeoutMs = 4000;
    // `slow` held for a minute: Y runs it and never answers within the test.
    const minute = new Uint8Array(4);
    new DataView(minute.buffer).setUint32(0, 60_000, true);
    const s = await waitingOnHungX(x, [y], (pool) => [pool.call('slow', minute, { timeoutMs, idempotent: true })]);
    s.clock.advance(1000); // a quarter of its time spent waiting on X
    void s.pool.remove(s.x.address);
    await waitFor(() => s.stateOf(y.address)?.inFlight === 1 || undefined, { what: 'the call on Y' });
    s.clock.advance(timeoutMs - 1000 - 1);
    expect(await settledYet(s.calls[0]!)).toBe(false);
    // Its first deadline, and the lateness its timer may take (10 %): a whole timeout on Y would end at 5000.
    s.clock.advance(1 + timeoutMs / 10);
    expect(await settledYet(s.calls[0]!)).toBe(true);
    expect(await s.calls[0]).toMatchObject({ code: ErrorCode.Timeout });
    expect(s.failures.map((f) => f.address)).toEqual([y.address]);
  });

  it('goes to a server that joins in the same replace(), once the change is over', async () => {
    const [x, z] = await children('X', 'Z');
    const s = await waitingOnHungX(x, [], (pool) => [pool.call('record', str('replaced')).then(textOf)]);
    // Before: failed Closed in the middle of the change, its retries went back to X's closed pool.
    void s.pool.replace([z.address]);
    expect(await within(s.calls[0]!, 15_000, 'the call')).toBe('Z');
    expect(z.ran()).toEqual(['replaced']);
    expect(s.failures).toEqual([]);
  });

  it('with no server up, waits on one that stays, as a call made now would, and runs there once that server answers', async () => {
    const [x, y] = await children('X', 'Y');
    const s = poolOf([x.address, y.address], { strategy: 'leader', retries: 0, pool: { backoff: { initialMs: 60_000, maxMs: 60_000 } } });
    for (const c of [x, y]) expect(await callOn(s.pool, c.address, 'who')).toBe(c.name);
    for (const c of [x, y]) {
      c.proc.kill('SIGKILL');
      await c.gone();
    }
    await waitFor(() => (s.stateOf(x.address)?.state === 'backoff' && s.stateOf(y.address)?.state === 'backoff') || undefined, { what: 'both pools in backoff' });
    // X back, stopped: the call (the leader's) waits on its early connect, which hangs. Y listens
    // again, its pool backing off (its delay never ends on this clock): nothing is up.
    const [x2, y2] = await Promise.all([child('X', x.port), child('Y', y.port)]);
    x2.proc.kill('SIGSTOP');
    const call = s.pool.call('record', str('stays'), { timeoutMs: 10_000 }).then(textOf, (e: unknown) => e);
    await waitFor(() => s.stateOf(x.address)?.queued === 1 || undefined, { what: 'the call waiting on X' });
    void s.pool.remove(x.address);
    // Placed on Y as a call made now (its pool connects at once: no other server to go to).
    expect(await within(call, 15_000, 'the call')).toBe('Y');
    expect(y2.ran()).toEqual(['stays']);
    expect(s.failures).toEqual([]);
  });

  it("stays where it waits when another server leaves: only the removed server's calls are placed again", async () => {
    const [x, y, z] = await children('X', 'Y', 'Z');
    // Z down: a call of its own found nothing listening, and its pool backs off (its leave takes its own waiting calls, none here).
    z.proc.kill('SIGKILL');
    await z.gone();
    const s = await waitingOnHungX(x, [y, z], (pool) => [pool.call('record', str('on-x')).then(textOf)]);
    const refused = new Promise((resolve) => s.pool.sendTo(z.address, 'who', new Uint8Array(), { failFast: true }, resolve));
    expect(await within(refused, 15_000, "Z's call")).toMatchObject({ code: ErrorCode.Unreachable });
    expect(s.stateOf(z.address)?.state).toBe('backoff');
    void s.pool.remove(z.address);
    await new Promise((resolve) => setImmediate(resolve));
    // X's first connect is no outage: the leader's call stays there, and runs there once X answers.
    expect(s.stateOf(s.x.address)?.queued).toBe(1);
    s.x.proc.kill('SIGCONT');
    expect(await within(s.calls[0]!, 15_000, 'the call')).toBe('X');
    expect([s.x.ran(), y.ran(), z.ran()]).toEqual([['on-x'], [], []]);
  });

  // Its time up, its ConnPool's deadline not yet fired (it sits a tick past, so as never to fire
  // early): X's close fails it unsent, where no retry starts, with or without retries left.
  it.each([0, 2])('with its time up, fails with Timeout, never run, not Closed (retries %i)', async (retries) => {
    const [x, y] = await children('X', 'Y');
    const timeoutMs = 1000;
    const s = await waitingOnHungX(x, [y], (pool) => [pool.call('record', str('late'), { timeoutMs })], { retries });
    s.clock.advance(timeoutMs);
    expect(await settledYet(s.calls[0]!)).toBe(false);
    void s.pool.remove(s.x.address);
    const err = (await within(s.calls[0]!, 15_000, 'the call')) as RpcError;
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
    expect(err.message).toMatch(/no time left .*timeoutMs \(1000 ms\)/);
    expect(y.ran()).toEqual([]);
  });

  it('with no server left, fails as a call made now does (Unreachable, never run), not Closed', async () => {
    const s = await waitingOnHungX(await child('X'), [], (pool) => [pool.call('record', str('alone'))]);
    void s.pool.remove(s.x.address);
    const err = (await within(s.calls[0]!, 15_000, 'the call')) as RpcError;
    expect(err).toMatchObject({ code: ErrorCode.Unreachable, retry: 'safe' });
    expect(err.message).toMatch(/no servers in the pool/);
    expect((await s.pool.call('who').catch((e: unknown) => e)) as RpcError).toMatchObject({ code: ErrorCode.Unreachable, message: err.message });
  });
});

describe('a call or stream sent to a server by name, waiting there, unsent, when it is removed', () => {
  // It cannot move (it names its server): it fails as a call that finds no server does, naming
  // the server that left. Before: Closed, "pool for … closed before the call was sent", the
  // words a pool's close gives, for a FailoverPool not closed.
  it('fails Unreachable, never run, retry safe, saying its server left the pool: not Closed', async () => {
    const [x, y] = await children('X', 'Y');
    // X is first in the list.
    const toX = (pool: FailoverPool): string => pool.servers()[0]!.address;
    const s = await waitingOnHungX(x, [y], (pool) => [
      new Promise((resolve, reject) => pool.sendTo(toX(pool), 'record', str('pinned'), {}, (err, reply) => (err ? reject(err) : resolve(reply)))),
      pool.openStreamTo(toX(pool), 'record', str('pinned-stream')).result,
    ]);
    void s.pool.remove(s.x.address);
    const errs = (await within(Promise.all(s.calls), 15_000, 'the call and the stream')) as RpcError[];
    for (const err of errs) {
      expect(err).toMatchObject({ code: ErrorCode.Unreachable, retry: 'safe', message: `server ${s.x.address} left the pool before the call was sent` });
    }
    expect(s.failures).toEqual([]);
    // The pool is not closed: a call made now goes to Y, the only one that runs anything.
    expect(s.pool.closed).toBe(false);
    expect(textOf(await s.pool.call('record', str('after')))).toBe('Y');
    expect(y.ran()).toEqual(['after']);
  });
});

describe('a call waiting on a server down when another server is readmitted', () => {
  /**
   * X and Y, both connected, Y out of rotation as `outOfRotation` puts it; then X dies, and comes
   * back stopped: a call made now goes to X (the only server admitted) and waits on its early
   * connect, which hangs. Backoff delays never end on this clock.
   */
  async function waitingOnXWhileYOut(opts: Omit<FailoverPoolOptions, 'transport' | 'servers' | 'clock'>, outOfRotation: (s: ReturnType<typeof poolOf>, y: ChildServer) => Promise<void>) {
    const [x, y] = await children('X', 'Y');
    const s = poolOf([x.address, y.address], { pool: { backoff: { initialMs: 60_000, maxMs: 60_000 } }, ...opts });
    expect(await callOn(s.pool, x.address, 'who')).toBe('X');
    await outOfRotation(s, y);
    x.proc.kill('SIGKILL');
    await x.gone();
    await waitFor(() => s.stateOf(x.address)?.state === 'backoff' || undefined, { what: "X's pool in backoff" });
    const hungX = await child('X', x.port);
    hungX.proc.kill('SIGSTOP');
    const call = s.pool.call('record', str('moved')).then(textOf, (e: unknown) => e);
    await waitFor(() => s.stateOf(x.address)?.queued === 1 || undefined, { what: 'the call waiting on X' });
    return { ...s, x, y, hungX, call };
  }

  /** The call waiting on X went to Y a turn after Y's readmission, ran there once, and nothing failed. */
  async function movedToY(s: Awaited<ReturnType<typeof waitingOnXWhileYOut>>): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    expect(s.stateOf(s.x.address)?.queued).toBe(0);
    expect(await within(s.call, 15_000, 'the call')).toBe('Y');
    expect(s.y.ran()).toEqual(['moved']);
    expect(s.hungX.ran()).toEqual([]);
    expect(s.failures).toEqual([]);
  }

  it('goes to it once its breaker closes (half-open, its probe answered), unsent, not waiting out the connect it waited on', async () => {
    const s = await waitingOnXWhileYOut({ circuitBreaker: { minCalls: 3, failureRatio: 0.5, openMs: 1000, halfOpenCalls: 1 } }, async (p, y) => {
      for (let i = 0; i < 3; i++) expect(await callOn(p.pool, y.address, 'overloaded')).toMatchObject({ code: ErrorCode.Overloaded });
      expect(p.stateOf(y.address)?.circuit).toBe('open');
    });
    s.clock.advance(1000); // Y's open time over: the next call is its probe
    expect(textOf(await s.pool.call('who'))).toBe('Y');
    expect(s.stateOf(s.y.address)?.circuit).toBe('closed');
    // The walk a microtask after the close (before: none, the call waited on X's connect for good).
    await movedToY(s);
  });

  it('goes to it once its ejection ends', async () => {
    const s = await waitingOnXWhileYOut({ outlierEjection: { intervalMs: 1000, minCalls: 2, minServers: 2, ejectMs: 1000 } }, async (p, y) => {
      for (let i = 0; i < 2; i++) {
        expect(await callOn(p.pool, p.pool.servers()[0]!.address, 'who')).toBe('X');
        expect(await callOn(p.pool, y.address, 'overloaded')).toMatchObject({ code: ErrorCode.Overloaded });
      }
      p.clock.advance(1000); // the comparison: Y failed all its calls, X none
      expect(p.stateOf(y.address)?.ejected).toBe(true);
    });
    s.clock.advance(1000); // the next comparison: Y's ejection is over
    expect(s.stateOf(s.y.address)?.ejected).toBe(false);
    await movedToY(s);
  });
});

describe('a stream waiting to open on a server removed from the pool', () => {
  /** X (started with the others) stopped (its first connect hangs), first of `servers`: a stream opened now waits on X to open. */
  async function streamWaitingOnHungX(x: ChildServer, others: string[], opts: Omit<FailoverPoolOptions, 'transport' | 'servers' | 'clock'>) {
    x.proc.kill('SIGSTOP');
    const s = poolOf([x.address, ...others], { strategy: 'leader', ...opts });
    const result = s.pool
      .openStream('record', str('opened'))
      .result.then(textOf)
      .catch((e: unknown) => e);
    await waitFor(() => s.stateOf(x.address)?.queued === 1 || undefined, { what: "the stream waiting on X's first connect" });
    return { ...s, x, result };
  }

  it('opens where a retry would, its attempt not spent: not on another server leaving in the same replace()', async () => {
    const [x, z] = await children('X', 'Z');
    // Nobody listens at Y, never connected to: healthy as far as the pool knows, and next in line after X.
    const y = `127.0.0.1:${await freePort()}`;
    // Before: X's close failed the stream Closed in the middle of the change, and its one retry
    // went to Y, still in the list read before it, whose pool the same replace() closed next.
    const s = await streamWaitingOnHungX(x, [y, z.address], { retries: 1 });
    void s.pool.replace([z.address]);
    expect(await within(s.result, 15_000, 'the stream')).toBe('Z');
    expect(z.ran()).toEqual(['opened']);
    expect(s.failures).toEqual([]);
    expect(s.pool.servers().map((v) => v.address)).toEqual([z.address]);
  });

  it('with no retries, opens on a server that stays, as a call waiting there would go', async () => {
    const [x, z] = await children('X', 'Z');
    const s = await streamWaitingOnHungX(x, [z.address], { retries: 0 });
    void s.pool.remove(s.x.address);
    expect(await within(s.result, 15_000, 'the stream')).toBe('Z');
    expect(z.ran()).toEqual(['opened']);
    expect(s.failures).toEqual([]);
  });

  it('with no server left, fails as a stream opened now does (Unreachable), not Closed', async () => {
    const s = await streamWaitingOnHungX(await child('X'), [], {});
    void s.pool.remove(s.x.address);
    const err = (await within(s.result, 15_000, 'the stream')) as RpcError;
    expect(err).toMatchObject({ code: ErrorCode.Unreachable, retry: 'safe' });
    expect(err.message).toMatch(/no servers in the pool/);
    expect(s.failures).toEqual([]);
  });
});

describe('a call that began waiting for room on a server that then lost its connection, removed', () => {
  it('is placed again as a call waiting there for a connection is, not failed Closed', async () => {
    const [x, y] = await children('X', 'Y');
    // One connection with room for one call; X's backoff never ends on this clock.
    const pool = { maxConnections: 1, stream: { window: 1 }, backoff: { initialMs: 60_000, maxMs: 60_000 } };
    const s = poolOf([x.address, y.address], { strategy: 'leader', retries: 0, pool });
    const minute = new Uint8Array(4);
    new DataView(minute.buffer).setUint32(0, 60_000, true);
    const held = s.pool.call('slow', minute).catch((e: unknown) => e);
    await waitFor(() => s.stateOf(x.address)?.inFlight === 1 || undefined, { what: 'the held call on X' });
    // Queued for room while X is up: no outage to move it (it is not among the calls waiting on a server down).
    const waited = s.pool.call('record', str('waited')).then(textOf, (e: unknown) => e);
    expect(s.stateOf(x.address)?.queued).toBe(1);
    x.proc.kill('SIGKILL');
    await x.gone();
    expect(await within(held, 15_000, 'the held call')).toMatchObject({ code: ErrorCode.IO });
    await waitFor(() => s.stateOf(x.address)?.state === 'backoff' || undefined, { what: "X's pool in backoff" });
    expect(s.stateOf(x.address)?.queued).toBe(1);
    // Before: X's close failed it Closed, and with no retries it ended there.
    void s.pool.remove(x.address);
    expect(await within(waited, 15_000, 'the call')).toBe('Y');
    expect(y.ran()).toEqual(['waited']);
    expect(s.failures.map((f) => f.code)).not.toContain(ErrorCode.Closed);
  });
});
