import { ErrorCode, MAX_TIMER_MS, parseAddress, silentLogger, type Transport } from '@skein/core';
import { ManualClock, cleanups, deferred, freePort, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, RpcServer, createRouter, type PoolState } from '../src/index.js';
import { PING_ACTION } from '../src/wire/protocol.js';
import { transport } from './harness.js';
import { countingTransport, hungServer, localServer } from './pool-harness.js';

// A pool's outage (outage.ts): when it begins, how the backoff paces the connects that follow,
// and that nothing of it outlives the pool. Connects go where `routed` sends them, each to a real
// server: a live one, a hung one, or a port nothing listens on.

const cleanup = cleanups();

/** A transport that sends each connect where `to()` says, whatever address the pool asks for; counts the connects and the refused ones. */
function routed(to: () => string): Transport & { connects: number; refused: number } {
  const t = {
    name: transport.name,
    connects: 0,
    refused: 0,
    connect: (_address: Parameters<Transport['connect']>[0], spec: Parameters<Transport['connect']>[1], options?: Parameters<Transport['connect']>[2]) => {
      t.connects++;
      return transport.connect(parseAddress(to()), spec, options).catch((err: unknown) => {
        t.refused++;
        throw err;
      });
    },
    listen: (...args: Parameters<Transport['listen']>) => transport.listen(...args),
  };
  return t;
}


describe('a pool that loses its last connection while another connect is under way', () => {
  it('is in an outage at once: unhealthy, connecting, not waiting for that connect to fail', async () => {
    // The first connect reaches a live server; the pool's next one (grown under load) reaches a
    // hung one, whose first ping is never answered. The live server then goes with a call on
    // the first connection: the last connection up is lost while the other connect waits.
    const gate = deferred();
    cleanup.push(() => gate.resolve());
    const live = await localServer({ slow: () => gate.promise });
    const hung = await hungServer();
    cleanup.push(() => hung.close());
    let first = true;
    const t = routed(() => (first ? ((first = false), live.address) : hung.address));
    const clock = new ManualClock();
    const p = new ConnPool({ transport: t, address: live.address, clock, maxConnections: 2, stream: { window: 1, keepaliveMs: 0, keepaliveTimeoutMs: 600_000 } });
    cleanup.push(() => p.destroy());
    const held = p.call('slow').catch(() => {});
    await waitFor(() => p.inFlight === 1, { what: 'the call on the first connection' });
    const queued = p.call('slow').catch(() => {}); // the window is full: the pool grows
    await waitFor(() => hung.got.some((h) => h.action === PING_ACTION), { what: 'the second connect to wait for its ping' });
    expect(p.state).toBe('ready');
    void live.server.close(); // cuts the connection after its closeWaitMs, the call still running
    await waitFor(() => p.connections === 0, { what: 'the first connection to be lost' });
    expect(p.state).toBe('connecting');
    expect(p.healthy).toBe(false);
    p.destroy();
    await Promise.all([held, queued]);
  });
});

describe('a pool whose extra connection failed to open', () => {
  it('does not try again at the next full window, but after a backoff delay', async () => {
    // The first connect reaches a live server, the next ones a port nothing listens on. A failed
    // scale-up while a connection works is no outage: the pool grows again only after a delay.
    const gate = deferred();
    cleanup.push(() => gate.resolve());
    const live = await localServer({ slow: () => gate.promise });
    cleanup.push(() => live.server.close());
    const dead = `127.0.0.1:${await freePort()}`;
    let first = true;
    const t = routed(() => (first ? ((first = false), live.address) : dead));
    const clock = new ManualClock(); // never moved: the delay never passes
    const p = new ConnPool({ transport: t, address: live.address, clock, maxConnections: 2, stream: { window: 1, keepaliveMs: 0 } });
    cleanup.push(() => p.destroy());
    const calls = [p.call('slow')];
    await waitFor(() => p.inFlight === 1, { what: 'the call on the first connection' });
    calls.push(p.call('slow')); // the window is full: the pool grows, and that connect is refused
    await waitFor(() => t.refused === 1, { what: 'the extra connect to be refused' });
    await waitFor(() => p.state === 'ready' && p.healthy, { what: 'the pool to take the failure in' });
    calls.push(p.call('slow')); // full again: no connect yet
    expect(t.connects).toBe(2);
    expect(p.stats()).toMatchObject({ state: 'ready', connections: 1, queued: 2 });
    gate.resolve();
    await Promise.all(calls);
  });
});

describe('a pool back from an outage', () => {
  it('starts its backoff over: the first reconnect of its next outage comes within the first delay', async () => {
    // Four refused connects grow the delay's ceiling to 10 · 10^4 ms; a connection then comes up.
    // When the next outage begins, the first reconnect is due within initialMs (10 ms) again.
    const live = await localServer({ who: () => undefined });
    const dead = `127.0.0.1:${await freePort()}`;
    let target = dead;
    const t = routed(() => target);
    const clock = new ManualClock();
    const p = new ConnPool({ transport: t, address: live.address, clock, connectBudgetMs: 600_000, backoff: { initialMs: 10, multiplier: 10, maxMs: 100_000 }, stream: { keepaliveMs: 0 } });
    cleanup.push(() => p.destroy());
    const call = p.call('who');
    for (const ceiling of [10, 100, 1000]) {
      await waitFor(() => p.state === 'backoff', { what: 'a refused connect' });
      clock.advance(ceiling); // the retry is due within the ceiling
    }
    await waitFor(() => p.state === 'backoff' && t.refused === 4, { what: 'four refused connects' });
    target = live.address;
    clock.advance(10_000);
    await call;
    expect(p.state).toBe('ready');
    target = dead;
    void live.server.close(); // the idle connection closes; its fresh connect is refused: an outage
    await waitFor(() => p.state === 'backoff' && t.refused === 5, { what: 'the next outage' });
    const before = t.connects;
    clock.advance(10);
    expect(t.connects).toBe(before + 1);
  });
});

describe('a pool closed during an outage', () => {
  it('leaves no ticker behind, the pending reconnect\'s included', async () => {
    const clock = new ManualClock();
    const p = new ConnPool({ transport, address: `127.0.0.1:${await freePort()}`, clock, connectBudgetMs: 60_000 });
    cleanup.push(() => p.destroy());
    const call = p.call('x').catch(() => {});
    await waitFor(() => p.state === 'backoff', { what: 'the first connect to fail' });
    expect(clock.running).toBe(2); // the pool's tick and the reconnect's delay
    await p.close();
    await call;
    expect(clock.running).toBe(0);
  });
});

/** A pool to `address` on `clock` presenting the credentials 'refused', its states told to `on`, which may act on the pool. */
function refusedPool(address: string, clock: ManualClock, on: (state: PoolState, pool: ConnPool) => void): ConnPool {
  const pool: ConnPool = new ConnPool({ transport, address, clock, logger: silentLogger, stream: { credentials: 'refused', keepaliveMs: 0 }, onStateChange: (state) => on(state, pool) });
  cleanup.push(() => pool.destroy());
  return pool;
}

/** A real server that accepts the credentials 'good' alone (others: Unauthenticated), its listener counting the connections it accepts. */
async function refusingServer(): Promise<{ address: string; accepted: () => number }> {
  const listener = countingTransport();
  const authenticate = ({ text }: { text: string }) => (text === 'good' ? { principal: 'good' } : undefined);
  const server = new RpcServer({ dispatch: createRouter({ 1: () => undefined }), authenticate, logger: silentLogger });
  const bound = (await server.listen(listener, '127.0.0.1:0')) as { port: number };
  cleanup.push(() => server.close());
  return { address: `127.0.0.1:${bound.port}`, accepted: () => listener.accepted };
}

describe('a pool whose onStateChange re-enters it as it enters backoff', () => {
  it('that renews its credentials keeps one reconnect delay pending, not two: no reconnect comes before its backoff delay, none outlives the pool', async () => {
    // Every credential is refused (Unauthenticated: no retry heals it). At the first 'backoff' the
    // state callback renews them, from within the pool's entry into backoff: the refusal is
    // outdated, so the pool connects again at once (Outage.changed), and that connect is refused
    // too. Its backoff's ceiling is the longest a timer holds (its delay falls under 100 ms once in
    // 20 million runs). The first delay (under 100 ms), armed as the callback returned, must not
    // live on beside it: a ticker, it would reconnect at its own pace until stopped.
    const s = await refusingServer();
    const t = routed(() => s.address);
    const clock = new ManualClock(); // moved only past the first delay's ceiling, below
    const states: PoolState[] = [];
    let renewed = false;
    const pool: ConnPool = new ConnPool({
      transport: t,
      address: s.address,
      clock,
      logger: silentLogger,
      backoff: { initialMs: 100, multiplier: 2 ** 25, maxMs: MAX_TIMER_MS },
      stream: { credentials: 'refused', keepaliveMs: 0 },
      onStateChange: (state) => {
        states.push(state);
        if (state === 'backoff' && !renewed) {
          renewed = true;
          void pool.renewCredentials();
        }
      },
    });
    cleanup.push(() => pool.destroy());
    // The call waits through the first refusal (outdated by the renewal) and fails with the second.
    const err = await within(pool.call(1).catch((e: unknown) => e), 10_000, 'the first call');
    expect(err).toMatchObject({ code: ErrorCode.Unauthenticated });
    expect(states).toEqual(['connecting', 'backoff', 'connecting', 'backoff']);
    expect(s.accepted()).toBe(2);
    expect(t.connects).toBe(2);
    expect(clock.running).toBe(2); // the pool's tick and one reconnect delay
    // Past the first delay's ceiling: a delay left over from it would reconnect now (a retry's
    // connect begins synchronously, so the count and the state say it at once).
    clock.advance(100);
    expect(t.connects).toBe(2);
    expect(pool.state).toBe('backoff');
    await pool.close();
    expect(clock.running).toBe(0);
    expect(s.accepted()).toBe(2);
  });

  it('that renews its credentials with ones the server takes holds no reconnect delay once the connect they made is up', async () => {
    // The renewal's connect, made at once, succeeds: the delay armed as the callback returned is
    // spent by it, not left to fire into a later outage's backoff.
    const s = await refusingServer();
    const clock = new ManualClock(); // never moved
    const states: PoolState[] = [];
    const pool = refusedPool(s.address, clock, (state, p) => {
      states.push(state);
      if (state === 'backoff') void p.renewCredentials('good');
    });
    await within(pool.call(1), 10_000, 'the call');
    expect(states).toEqual(['connecting', 'backoff', 'connecting', 'ready']);
    expect(s.accepted()).toBe(2);
    expect(clock.running).toBe(2); // the pool's tick and its connection's: no reconnect delay
  });

  it('that closes it arms no delay after the close', async () => {
    const s = await refusingServer();
    const clock = new ManualClock();
    const pool = refusedPool(s.address, clock, (state, p) => void (state === 'backoff' && p.close()));
    const err = await within(pool.call(1).catch((e: unknown) => e), 10_000, 'the call');
    expect(err).toMatchObject({ code: ErrorCode.Closed });
    expect(pool.state).toBe('closed');
    expect(s.accepted()).toBe(1);
    expect(clock.running).toBe(0);
  });
});
