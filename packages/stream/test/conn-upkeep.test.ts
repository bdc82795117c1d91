import { ManualClock, deferred, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool } from '../src/index.js';
import { transport } from './harness.js';
import { localServer } from './pool-harness.js';

// A pool's upkeep on its tick (conn-upkeep.ts): which extra connection its idle clock closes.
// The pool's clock is a ManualClock, so that a tick comes only when the test advances it.

const cleanup = cleanups();

/** A server whose `slow` and `slow2` calls wait for their gate, and which records the connection each call ran on. */
async function server() {
  const gates = { slow: deferred(), slow2: deferred() };
  const ranOn: Record<string, number[]> = { slow: [], slow2: [], who: [] };
  const held = (name: 'slow' | 'slow2') => async (req: { conn: { id: number } }) => {
    ranOn[name]!.push(req.conn.id);
    await gates[name].promise;
  };
  const s = await localServer({ slow: held('slow'), slow2: held('slow2'), who: (req) => void ranOn.who!.push(req.conn.id) });
  cleanup.push(() => s.server.close());
  // Not spread: `accepted` is a getter.
  return Object.assign(s, { gates, ranOn });
}

/**
 * Two connections, window 1: a call held on the first fills it, and the next call (waiting in
 * the pool for room) makes the pool open a second, and runs there. Both calls settle once
 * `gates.slow` opens.
 */
async function twoConnections(s: Awaited<ReturnType<typeof server>>, clock: ManualClock) {
  const p = new ConnPool({ transport, address: s.address, clock, maxConnections: 2, idleTimeoutMs: 5000, stream: { window: 1, keepaliveMs: 0 } });
  cleanup.push(() => p.destroy());
  const held = p.call('slow');
  await waitFor(() => s.ranOn.slow.length === 1, { what: 'the first call to run' });
  const queued = p.call('who');
  await waitFor(() => p.connections === 2 && s.server.connections === 2, { what: 'a second connection' });
  return { p, first: s.ranOn.slow[0]!, settled: Promise.all([held, queued]) };
}

describe('a pool closing its idle extra connections', () => {
  it('closes the one left idle and keeps the one in use, though that one was opened first', async () => {
    // Once the first is free, calls keep going to it (ties go to the first); the second carries
    // nothing more. The most recently used stays, so the second goes, not the first opened.
    const clock = new ManualClock();
    const s = await server();
    const { p, first, settled } = await twoConnections(s, clock);
    s.gates.slow.resolve();
    await settled;
    expect(s.ranOn.who).toHaveLength(1);
    expect(s.ranOn.who[0]).not.toBe(first);
    s.ranOn.who.length = 0;
    for (let i = 0; i < 7; i++) {
      await p.call('who');
      clock.advance(1000); // a tick: the connection sent on counts as used now
    }
    await waitFor(() => p.connections === 1 && s.server.connections === 1, { what: 'the idle connection to close' });
    await p.call('who');
    expect(new Set(s.ranOn.who)).toEqual(new Set([first]));
  });

  it('does not count a connection carrying a call as idle, however long the call runs', async () => {
    // A call held on each connection, outlasting idleTimeoutMs: neither connection is idle, so
    // a new call still goes to the first (ties go to the first), not only to the second.
    const clock = new ManualClock();
    const s = await server();
    const { p, first, settled } = await twoConnections(s, clock);
    const onSecond = p.call('slow2'); // the first is full: on the second
    await waitFor(() => s.ranOn.slow2.length === 1, { what: 'a call on the second connection' });
    s.gates.slow.resolve();
    await settled;
    const onFirst = p.call('slow2'); // the first has room again
    await waitFor(() => s.ranOn.slow2.length === 2, { what: 'a call on the first connection' });
    expect(s.ranOn.slow2[0]).not.toBe(first);
    expect(s.ranOn.slow2[1]).toBe(first);
    clock.advance(1000);
    clock.advance(10_000); // twice idleTimeoutMs since either connection was last sent on
    s.gates.slow2.resolve();
    await Promise.all([onSecond, onFirst]);
    // Both still open, both free: the first takes it.
    await p.call('who');
    expect(s.ranOn.who.at(-1)).toBe(first);
    expect(s.accepted).toBe(2);
  });
});
