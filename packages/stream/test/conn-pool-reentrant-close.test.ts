import { ErrorCode, silentLogger, type RpcError } from '@skein/core';
import { ManualClock, cleanups, deferred, heldHandler, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, RpcServer, createRouter, type ConnPoolOptions, type FailoverPoolOptions, type PoolState, type StreamCall } from '../src/index.js';
import { transport } from './harness.js';
import { hungServer, localServer, settledYet, str, textOf } from './pool-harness.js';

// An application's onStateChange runs synchronously from the pool's state change, and a call
// made or placed on an idle pool changes it (connecting): code there that closes the pool, or
// removes its server from a FailoverPool, closed it under the call, which was then queued in the
// closed pool, its ticker and outage stopped: never sent, never failed, not even by destroy().
// Such a call fails as a call on a closed pool does (Closed, retry 'safe': it never ran). A
// FailoverPool's call whose server was removed so is placed again as one waiting on a removed
// server is (its attempt not spent; with no server left, Unreachable), and one whose FailoverPool was
// closed fails by its usual rules.

const cleanup = cleanups();

/** How `p` settled: its value or its error. */
const outcomeOf = (p: Promise<unknown>): Promise<unknown> => p.then((v) => v, (e: unknown) => e);

/** How `p` settled, its value or its error; a hang guard (never a measure) fails the test when it does not. */
const settled = (p: Promise<unknown>, what: string): Promise<unknown> => within(outcomeOf(p), 5000, what);

/** A ConnPool whose onStateChange runs `onChange` (given the pool); closed by the test's cleanup. */
function connPool(address: string, onChange: (pool: ConnPool, state: PoolState, previous: PoolState) => void, opts: Partial<ConnPoolOptions> = {}): ConnPool {
  const pool: ConnPool = new ConnPool({ transport, address, ...opts, onStateChange: (state, previous) => onChange(pool, state, previous) });
  cleanup.push(() => pool.destroy());
  return pool;
}

/** A server answering `who`, closed by the test's cleanup. */
async function served(): Promise<{ address: string }> {
  const s = await localServer({ who: () => str('S') });
  cleanup.push(() => s.server.close());
  return s;
}

/** A server whose `hold` calls run until `held.endAll()`, and whose close waits for them (no cut while a test runs). */
async function holdingServer() {
  const held = heldHandler();
  const server = new RpcServer({ dispatch: createRouter({ hold: () => held.run(str('held')), who: () => str('S') }, silentLogger), closeWaitMs: 30_000 });
  const a = await server.listen(transport, '127.0.0.1:0');
  const address = `127.0.0.1:${(a as { port: number }).port}`;
  cleanup.push(() => {
    held.endAll();
    return server.close();
  });
  return { server, address, held };
}

describe('ConnPool: onStateChange closing the pool under a call', () => {
  it('a stream opened on a fresh pool without transparent retries (openOn connects), closed by its connecting, fails Closed', async () => {
    const { address } = await served();
    const pool = connPool(address, (p, state) => void (state === 'connecting' && p.close()), { transparentRetries: 0 });
    const stream = pool.openStream('who');
    const ended = outcomeOf(stream.result);
    expect(await settledYet(ended)).toBe(true);
    expect(await ended).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
  });

  it("a call that replaces a draining server's connection, whose connecting closes the pool, fails Closed", async () => {
    const s = await holdingServer();
    const pool = connPool(s.address, (p, state, previous) => void (state === 'connecting' && previous === 'ready' && p.destroy()), { transparentRetries: 0 });
    void outcomeOf(pool.call('hold')); // keeps the draining server's connection open
    await waitFor(() => s.held.running === 1 || undefined, { what: 'the held call running' });
    void s.server.close();
    // Refused unrun by the draining server: the connection is marked as refusing.
    expect(await outcomeOf(pool.call('who'))).toMatchObject({ code: ErrorCode.Closed });
    // The next call's pick retires it, and connects: onStateChange destroys the pool.
    const call = outcomeOf(pool.call('who'));
    expect(await settledYet(call)).toBe(true);
    expect(await call).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    expect(pool.state).toBe('closed');
  });

  it("a call refused by a draining server and resent (transparent retry), whose reconnect closes the pool, fails Closed", async () => {
    const s = await holdingServer();
    const closed = deferred();
    const pool = connPool(s.address, (p, state, previous) => {
      if (state === 'connecting' && previous === 'ready') p.destroy();
      if (state === 'closed') closed.resolve();
    });
    void outcomeOf(pool.call('hold'));
    await waitFor(() => s.held.running === 1 || undefined, { what: 'the held call running' });
    void s.server.close();
    // Refused unrun: resent, its pick retires the connection and connects; onStateChange destroys the pool.
    const call = outcomeOf(pool.call('who'));
    await closed.promise;
    expect(await settledYet(call)).toBe(true);
    expect(await call).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
  });

  it('a call waiting for room, whose flush replaces a draining connection and so closes the pool, fails Closed', async () => {
    const s = await holdingServer();
    const closed = deferred();
    const pool = connPool(
      s.address,
      (p, state, previous) => {
        if (state === 'connecting' && previous === 'ready') p.destroy();
        if (state === 'closed') closed.resolve();
      },
      { transparentRetries: 0, maxConnections: 1, stream: { window: 1 } },
    );
    void outcomeOf(pool.call('hold')); // the window's one slot, held
    await waitFor(() => s.held.running === 1 || undefined, { what: 'the held call running' });
    const call = outcomeOf(pool.call('who')); // waits in the pool for room
    expect(pool.stats().queued).toBe(1);
    void s.server.close();
    // A stream takes no window slot: it opens on the connection, and the draining server refuses
    // it (Closed): the connection is marked as refusing, and the stream's end flushes the calls
    // waiting. The flush's pick retires the connection and connects: onStateChange destroys the pool.
    const stream = pool.openStream('who');
    expect(await outcomeOf(stream.result)).toMatchObject({ code: ErrorCode.Closed });
    await closed.promise;
    expect(await settledYet(call)).toBe(true);
    expect(await call).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
  });
});

describe('FailoverPool: pool.onStateChange closing the pool, or removing the server, as a call is placed', () => {
  /** X hung (its first connect never completes: calls wait there), Y idle; `onConnecting` runs when Y starts connecting. */
  async function setup(onConnecting: (pool: FailoverPool, address: string) => void, opts: Partial<FailoverPoolOptions> = {}, more: string[] = []) {
    const x = await hungServer();
    cleanup.push(() => x.close());
    const y = await localServer({ who: () => str('Y') });
    cleanup.push(() => y.server.close());
    const pool: FailoverPool = new FailoverPool({
      transport,
      servers: [x.address, y.address, ...more],
      strategy: 'leader',
      retries: 0,
      pool: {
        onStateChange: (state, _previous, address) => {
          if (state === 'connecting' && address === y.address) onConnecting(pool, y.address);
        },
      },
      ...opts,
    });
    cleanup.push(() => pool.destroy());
    return { pool, x, y };
  }

  /** A call waiting on X, displaced by X's removal onto Y (idle: it starts connecting); wrapped, as an async function's result would be awaited. */
  async function displaced(pool: FailoverPool, x: string): Promise<{ call: Promise<unknown> }> {
    const call = pool.call('who', undefined, { timeoutMs: 1000 });
    await waitFor(() => pool.stats().find((s) => s.address === x)?.queued === 1 || undefined, { what: 'the call waiting on X' });
    void pool.remove(x);
    return { call };
  }

  /** `shouldFailover` noting each failure it is asked about: a call moved, not failed over, asks none. */
  function noting(): { failures: string[]; shouldFailover: FailoverPoolOptions['shouldFailover'] } {
    const failures: string[] = [];
    return { failures, shouldFailover: (err, a) => void failures.push(`${a.address}: ${err.message}`) };
  }

  it('a call displaced by remove() onto an idle server whose connecting destroys the pool fails Closed', async () => {
    const { pool, x } = await setup((p) => p.destroy());
    const { call } = await displaced(pool, x.address);
    expect(await settled(call, 'the call')).toMatchObject({ code: ErrorCode.Closed });
  });

  it('the app removing that server instead: the call, never sent, is placed on the next server, its attempt not spent (retries 0), and answered', async () => {
    const z = await localServer({ who: () => str('Z') });
    cleanup.push(() => z.server.close());
    const { failures, shouldFailover } = noting();
    // Before: failed Closed on Y by the usual rules, a retry spent (with retries 0, the call ended Closed).
    const { pool, x } = await setup((p, address) => void p.remove(address), { shouldFailover }, [z.address]);
    const { call } = await displaced(pool, x.address);
    expect(textOf((await settled(call, 'the call')) as never)).toBe('Z');
    expect(failures).toEqual([]);
  });

  it('a new call, or stream, on an idle server the app removes as it connects: placed on the next server, as one waiting there would be', async () => {
    const z = await localServer({ who: () => str('Z') });
    cleanup.push(() => z.server.close());
    const { failures, shouldFailover } = noting();
    for (const open of [(p: FailoverPool) => p.call('who', undefined, { timeoutMs: 1000 }), (p: FailoverPool) => p.openStream('who', undefined, { timeoutMs: 1000 }).result]) {
      const { pool, x } = await setup((p, address) => void p.remove(address), { shouldFailover }, [z.address]);
      await pool.remove(x.address);
      expect(textOf((await settled(open(pool), 'the call')) as never)).toBe('Z');
      expect(pool.servers().map((s) => s.address)).toEqual([z.address]);
    }
    expect(failures).toEqual([]);
  });

  it('the app removing that server, no server left: the call fails as a call made now does (Unreachable, no servers), not Closed', async () => {
    const { failures, shouldFailover } = noting();
    const { pool, x } = await setup((p, address) => void p.remove(address), { shouldFailover });
    const { call } = await displaced(pool, x.address);
    const err = (await settled(call, 'the call')) as RpcError;
    expect(err).toMatchObject({ code: ErrorCode.Unreachable, retry: 'safe' });
    expect(err.message).toMatch(/no servers in the pool/);
    expect(failures).toEqual([]);
  });

  it('an app that swaps the servers under every connect: each server gives the call one free placing, then the retry rules end it', async () => {
    const y = await served();
    const z = await served();
    const { failures, shouldFailover } = noting();
    let swaps = 0;
    // Y connecting: Z in its place; Z connecting: Y back. Free placings for ever would recurse until the stack overflowed.
    const pool: FailoverPool = new FailoverPool({
      transport,
      servers: [y.address],
      retries: 1,
      shouldFailover,
      pool: {
        onStateChange: (state, _previous, address) => {
          if (state !== 'connecting') return;
          swaps++;
          void pool.replace([address === y.address ? z.address : y.address]);
        },
      },
    });
    cleanup.push(() => pool.destroy());
    const err = (await settled(pool.call('who', undefined, { timeoutMs: 1000 }), 'the call')) as RpcError;
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    // Y, then Z: free. Y again: a failure by the rules, its one retry spent on Z again, whose failure ends the call.
    expect(swaps).toBe(4);
    expect(failures).toHaveLength(2);
  });

  it('an app that swaps in a fresh server under every connect: the call is placed free a bounded number of times, then the retry rules end it typed', async () => {
    const { failures, shouldFailover } = noting();
    let swaps = 0;
    // Each connecting: a server never seen before in its place. Once per server bounded nothing:
    // the placings recursed until RangeError (Maximum call stack size exceeded) reached the caller.
    // Unix paths that do not exist: nothing is dialled before the swap closes its pool anyway.
    const fresh = (): string => `unix:/nonexistent-skein-swap/s${swaps}`;
    const pool: FailoverPool = new FailoverPool({
      transport,
      servers: [fresh()],
      retries: 1,
      shouldFailover,
      pool: {
        onStateChange: (state) => {
          if (state !== 'connecting' || swaps >= 10_000) return;
          swaps++;
          void pool.replace([fresh()]);
        },
      },
    });
    cleanup.push(() => pool.destroy());
    const err = (await settled(pool.call('who', undefined, { timeoutMs: 1000 }), 'the call')) as RpcError;
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    // 8 free placings (MAX_FREE_PLACEMENTS), then the first attempt and its one retry by the rules.
    expect(swaps).toBe(10);
    expect(failures).toHaveLength(2);
  });

  it('a call already sent to a server removed, refused unrun by it after, goes by the usual rules: only a failure back before its placing returned moves free', async () => {
    const x = await holdingServer();
    const y = await served();
    const { failures, shouldFailover } = noting();
    const pool = new FailoverPool({ transport, servers: [x.address, y.address], strategy: 'leader', retries: 0, shouldFailover });
    cleanup.push(() => pool.destroy());
    void outcomeOf(pool.call('hold')); // keeps X's connection open, and X draining once closed
    await waitFor(() => x.held.running === 1 || undefined, { what: 'the held call running' });
    void x.server.close();
    // Written in this turn, before X's goodbye is read: X refuses it unrun (Closed), after the removal.
    const call = pool.call('who');
    void pool.remove(x.address);
    const err = (await settled(call, 'the call')) as RpcError;
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    expect(failures).toHaveLength(1);
  });

  it("a call waiting for room on a server up, whose flush replaces that server's draining connection and the app removes it as it connects: placed on the next server, its attempt not spent", async () => {
    const x = await holdingServer();
    const z = await localServer({ who: () => str('Z') });
    cleanup.push(() => z.server.close());
    const { failures, shouldFailover } = noting();
    const pool: FailoverPool = new FailoverPool({
      transport,
      servers: [x.address, z.address],
      strategy: 'leader',
      retries: 0,
      shouldFailover,
      pool: {
        transparentRetries: 0,
        maxConnections: 1,
        stream: { window: 1 },
        // X's only connection replaced (ready to connecting): the app removes X.
        onStateChange: (state, previous, address) => void (state === 'connecting' && previous === 'ready' && address === x.address && pool.remove(address)),
      },
    });
    cleanup.push(() => pool.destroy());
    void outcomeOf(pool.call('hold')); // X's window's one slot, held
    await waitFor(() => x.held.running === 1 || undefined, { what: 'the held call running' });
    const call = pool.call('who', undefined, { timeoutMs: 2000 }); // waits in X's pool for room, X up
    expect(pool.stats().find((s) => s.address === x.address)?.queued).toBe(1);
    void x.server.close();
    // As in the ConnPool case above: a stream (no window slot) opens on X's connection, X refuses
    // it unrun (the connection refusing from then on), and its end flushes the call waiting. The
    // flush's pick retires the connection and connects: the app removes X, whose pool's close
    // fails the call inside the flush, taken out of the queue and sent nowhere.
    const stream = pool.openStream('who');
    expect(await settled(stream.result, 'the stream')).toMatchObject({ code: ErrorCode.Closed });
    // Before: Closed by the usual rules, its one attempt spent (retries 0).
    const outcome = await settled(call, 'the call');
    expect(outcome instanceof Error ? outcome.message : textOf(outcome as never)).toBe('Z');
    expect(pool.servers().map((s) => s.address)).toEqual([z.address]);
    // The stream's refusal alone was a failure: the call's move asked nothing.
    expect(failures).toEqual([expect.stringMatching(new RegExp(`^${x.address}: `))]);
  });

  it('that call with its time up as the app removes its server: fails with Timeout, never run, not Closed (retries 0)', async () => {
    const x = await holdingServer();
    const z = await localServer({ who: () => str('Z') });
    cleanup.push(() => z.server.close());
    const { failures, shouldFailover } = noting();
    const clock = new ManualClock();
    const pool: FailoverPool = new FailoverPool({
      transport,
      clock,
      servers: [x.address, z.address],
      strategy: 'leader',
      retries: 0,
      shouldFailover,
      pool: {
        transparentRetries: 0,
        maxConnections: 1,
        // No keepalive: the clock's advance sets off nothing on the connections.
        stream: { window: 1, keepaliveMs: 0 },
        onStateChange: (state, previous, address) => void (state === 'connecting' && previous === 'ready' && address === x.address && pool.remove(address)),
      },
    });
    cleanup.push(() => pool.destroy());
    void outcomeOf(pool.call('hold'));
    await waitFor(() => x.held.running === 1 || undefined, { what: 'the held call running' });
    const call = outcomeOf(pool.call('who', undefined, { timeoutMs: 1000 }));
    expect(pool.stats().find((s) => s.address === x.address)?.queued).toBe(1);
    // Its time up; the deadline of X's pool, a tick past it (never early), not yet fired: it still waits for room.
    clock.advance(1000);
    expect(await settledYet(call)).toBe(false);
    void x.server.close();
    // As above: the flush the stream's end makes fails the call inside it, X removed under it.
    expect(await settled(pool.openStream('who').result, 'the stream')).toMatchObject({ code: ErrorCode.Closed });
    // Before: Closed ("pool for … is closed") by the retry rules, its one attempt spent.
    const err = (await settled(call, 'the call')) as RpcError;
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
    expect(err.message).toBe(`no time left for another attempt within the call's timeoutMs (1000 ms); the last one failed: server ${x.address} left the pool before the call was sent`);
    expect(z.counts.who ?? 0).toBe(0);
    // The stream's refusal alone was a failure: the call's ending asked nothing.
    expect(failures).toEqual([expect.stringMatching(new RegExp(`^${x.address}: `))]);
  });

  it('a new call on an idle server whose connecting closes the pool fails Closed', async () => {
    const { pool, x } = await setup((p) => void p.close());
    // X removed with nothing waiting: the next call goes to Y, idle.
    await pool.remove(x.address);
    const call = pool.call('who', undefined, { timeoutMs: 1000 });
    expect(await settled(call, 'the call')).toMatchObject({ code: ErrorCode.Closed });
  });

  it('a stream opened on an idle server whose connecting destroys the pool fails Closed', async () => {
    const { pool, x } = await setup((p) => p.destroy());
    await pool.remove(x.address);
    const stream: StreamCall = pool.openStream('who', undefined, { timeoutMs: 1000 });
    expect(await settled(stream.result, 'the stream')).toMatchObject({ code: ErrorCode.Closed });
  });
});
