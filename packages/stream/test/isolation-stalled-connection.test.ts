import { cleanups, startTcpRelay, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool } from '../src/index.js';
import { transport } from './harness.js';
import { localServer, str, textOf } from './pool-harness.js';

/*
 * One slow party never stalls the others, within a ConnPool: one of its connections goes dead
 * without a word (a NAT that forgot the flow: its bytes dropped both ways, nothing closed), so
 * the calls on it are never answered. They fill that connection's window and wait there (until
 * keepalive finds it dead); the pool sends every later call to the connection with the most room,
 * opening another when every window is full (README "ConnPool"), so they never wait behind them.
 * What decides is the order of events: the later calls finish while those on the dead connection
 * are still pending.
 */

const cleanup = cleanups();

const WINDOW = 2;

describe('a ConnPool one of whose connections goes dead without a word', () => {
  it('fills only that connection: later calls go to a connection with room, opened for them, while its calls still wait', async () => {
    const s = await localServer({ who: () => str('ok') });
    cleanup.push(() => s.server.close());
    const relay = await startTcpRelay(s.address);
    cleanup.push(() => relay.close());
    // Keepalive far off: the dead connection stays in the pool, with its calls pending, for the whole test.
    const pool = new ConnPool({ transport, address: relay.address, maxConnections: 2, stream: { window: WINDOW, keepaliveTimeoutMs: 60_000 } });
    cleanup.push(() => pool.destroy());
    expect(textOf(await pool.call('who'))).toBe('ok');
    expect(pool.connections).toBe(1);

    // The one connection goes dead; new connections through the relay are relayed as before.
    relay.stall();
    let deadSettled = 0;
    for (let i = 0; i < WINDOW; i++) {
      void pool
        .call('who', undefined, { timeoutMs: 60_000 })
        .finally(() => deadSettled++)
        .catch(() => undefined);
    }
    await waitFor(() => (s.counts.who === 1 && pool.inFlight === WINDOW) || undefined, { what: 'the dead connection holding its window' });

    const later = await Promise.all(Array.from({ length: 50 }, () => pool.call('who', undefined, { timeoutMs: 10_000 }).then(textOf)));
    expect(later).toEqual(Array(50).fill('ok'));
    expect(s.counts.who).toBe(51);
    expect(pool.connections).toBe(2);
    // Still pending on the dead connection: none of them was answered, failed or moved.
    expect(deadSettled).toBe(0);
  });
});
