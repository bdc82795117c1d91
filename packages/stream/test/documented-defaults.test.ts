import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, deferred, freePort, settleAll, sleep, waitFor, within, type Deferred } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, ConnPool, FailoverPool } from '../src/index.js';
import { transport } from './harness.js';
import { localServer, type LocalServer } from './pool-harness.js';

// The defaults the README gives for ClientStream, ConnPool and FailoverPool, each shown by what it
// does against a real server, with the option left out: a default changed in the code alone (or
// in the README alone) fails here.

const cleanup = cleanups();
const none = new Uint8Array(0);

/** A server whose `hold` handlers wait for `gate`, counting those running. */
async function holding(): Promise<{ s: LocalServer; gate: Deferred<void>; running: () => number }> {
  const gate = deferred();
  let running = 0;
  const s = await localServer({ hold: () => (running++, gate.promise.then(() => none)), refuse: (req) => req.fail(ErrorCode.Overloaded) });
  cleanup.push(() => (gate.resolve(), s.server.close()));
  return { s, gate, running: () => running };
}

describe('ClientStream', () => {
  it('window 128: the 129th call waits in the line until one of the 128 on the wire is answered', async () => {
    const { s, gate, running } = await holding();
    const client = await ClientStream.connect({ transport, address: s.address });
    cleanup.push(() => client.destroy());
    const calls = Array.from({ length: 129 }, () => client.call('hold', none));
    await waitFor(() => running() === 128, { what: '128 calls running' });
    expect(client.inFlight).toBe(128);
    expect(client.queued).toBe(1);
    gate.resolve();
    await within(Promise.all(calls), 10_000, 'every call');
    expect(s.counts.hold).toBe(129);
  });

  it('maxQueued 65 536: past that many calls waiting for the window, a call fails Overloaded, unsent', async () => {
    const { s, running } = await holding();
    const client = await ClientStream.connect({ transport, address: s.address, window: 1 });
    // The callback path: no promise per call, so that 65 537 calls cost the test little.
    let failed = 0;
    for (let i = 0; i < 1 + 65_536; i++) client.send('hold', none, {}, (err) => void (err && failed++));
    await waitFor(() => running() === 1, { what: 'the call on the wire' });
    expect(client.queued).toBe(65_536);
    const refused = await client.call('hold', none).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: ErrorCode.Overloaded, retry: 'safe', message: expect.stringContaining('more than 65536 calls waiting') });
    client.destroy();
    expect(failed).toBe(1 + 65_536);
  });
});

describe('ConnPool', () => {
  it('maxConnections 4: a connection per full window, four at most', async () => {
    const { s, gate, running } = await holding();
    const pool = new ConnPool({ transport, address: s.address, stream: { window: 1 } });
    cleanup.push(() => pool.destroy());
    const calls = Array.from({ length: 10 }, () => pool.call('hold', none));
    await waitFor(() => pool.stats().connections === 4, { what: '4 connections' });
    // The calls made before stay in the first connection's line; later ones take the new ones.
    calls.push(...Array.from({ length: 6 }, () => pool.call('hold', none)));
    await waitFor(() => running() === 4, { what: '4 calls running, one per connection' });
    // A guard for a larger default, not a measure: the real one passes whatever the wait.
    await sleep(100);
    expect(s.accepted).toBe(4);
    expect(pool.stats()).toMatchObject({ connections: 4, inFlight: 4, queued: 12 });
    gate.resolve();
    await within(Promise.all(calls), 10_000, 'every call');
    expect(s.accepted).toBe(4);
  });

  it('maxQueued 10 000: past that many calls waiting for a connection, a call fails Overloaded, unsent', async () => {
    const pool = new ConnPool({ transport, address: `127.0.0.1:${await freePort()}` }); // nobody listens
    const calls = Array.from({ length: 10_000 }, () => pool.call('hold', none));
    const refused = await pool.call('hold', none).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: ErrorCode.Overloaded, retry: 'safe', message: expect.stringContaining('more than 10000 calls waiting for a connection') });
    pool.destroy();
    const { errors } = await settleAll(calls);
    expect(errors).toHaveLength(10_000);
  });
});

describe('FailoverPool', () => {
  it('retries 2: a call every server refuses unrun is tried on three of them, not a fourth', async () => {
    const servers = await Promise.all(Array.from({ length: 4 }, () => holding()));
    const pool = new FailoverPool({ transport, servers: servers.map(({ s }) => s.address) });
    cleanup.push(() => pool.close());
    const err = await pool.call('refuse', none).catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.Overloaded)).toBe(true);
    expect(servers.map(({ s }) => s.counts.refuse ?? 0).reduce((a, b) => a + b)).toBe(3);
  });
});
