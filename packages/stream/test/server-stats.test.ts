import { deferred, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { startServer } from './harness.js';

const cleanup = cleanups();

describe('RpcServer.stats', () => {
  it('counts listeners, connections, requests in flight, and connections accepted and refused', async () => {
    const gate = deferred<Uint8Array>();
    const s = await startServer({ wait: () => gate.promise }, { maxConnections: 2 });
    cleanup.push(() => s.server.close());
    expect(s.server.stats()).toEqual({ state: 'running', listeners: 1, connections: 0, inFlight: 0, paused: 0, accepted: 0, refused: 0, streamsRefused: 0, clients: 0, peers: 0 });
    const a = await s.connect();
    const b = await s.connect();
    cleanup.push(() => a.destroy(), () => b.destroy());
    const calls = [a.call('wait'), a.call('wait'), b.call('wait')];
    await expect.poll(() => s.server.stats().inFlight).toBe(3);
    // A third connection is over maxConnections: closed at once, counted as refused.
    const c = await s.connect();
    cleanup.push(() => c.destroy());
    await c.closed();
    expect(s.server.stats()).toEqual({ state: 'running', listeners: 1, connections: 2, inFlight: 3, paused: 0, accepted: 2, refused: 1, streamsRefused: 0, clients: 2, peers: 0 });
    gate.resolve(new Uint8Array(0));
    await Promise.all(calls);
    expect(s.server.stats().inFlight).toBe(0);
    a.destroy();
    b.destroy();
    await s.server.close();
    expect(s.server.stats()).toMatchObject({ state: 'closed', listeners: 0, connections: 0, accepted: 2, refused: 1 });
  });
});
