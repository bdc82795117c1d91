import { parseAddress, type Transport } from '@skein/core';
import { ManualClock, cleanups, deferred, freePort, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool } from '../src/index.js';
import { PING_ACTION } from '../src/wire/protocol.js';
import { transport } from './harness.js';
import { hungServer, localServer } from './pool-harness.js';

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
