import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, deferred, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, type ServerHealthEvent, type ServerRequest } from '../src/index.js';
import { startServer, transport, u32 } from './harness.js';
import { ran } from './stream-outcome.js';

/*
 * A stream refused for its connection's `streamBudgetBytes` (bare Overloaded, unrun, before the
 * server said anything of it) is a cap of that connection alone: the server is fine. A ConnPool
 * opens it again on another of its connections (one open with room, or a new one up to
 * `maxConnections`), never on the one that refused it until one of that one's streams left; a
 * FailoverPool tries its server's other connections the same way before another server, and
 * counts the refusal against no server's breaker or outlier score. It never ran, so opening it
 * again runs nothing twice. What decides each test is whether a stream's handler ran (its first
 * item came) or it was refused, and the breaker's state after those outcomes; never time.
 */

const cleanup = cleanups();

const WINDOW = 16 * 1024;

/** A server whose connections each take one stream that reads items (the budget is one window); `hold` sends an item as it runs, then waits. */
async function oneWindowServer() {
  const gate = deferred();
  const held: ServerRequest[] = [];
  const s = await startServer(
    {
      hold: async (req) => {
        held.push(req);
        await req.stream!.write(u32(held.length));
        await gate.promise;
      },
    },
    { closeWaitMs: 0, streamWindowBytes: WINDOW, streamBudgetBytes: WINDOW },
  );
  cleanup.push(() => (gate.resolve(), s.server.close()));
  return { ...s, held, gate };
}

const refusedUnrun = (r: 'ran' | RpcError): boolean => r instanceof RpcError && r.code === ErrorCode.Overloaded && r.retry === 'safe';

describe('a ConnPool whose connection refuses a stream for its budget', () => {
  it('opens it on another connection, and on the refusing one again once one of its streams left', async () => {
    const { server, address, held, gate } = await oneWindowServer();
    const pool = new ConnPool({ transport, address, maxConnections: 2 });
    // Its streams answered first: a pool's close waits for them.
    cleanup.push(() => (gate.resolve(), pool.close()));
    const first = pool.openStream('hold');
    expect(await ran(first)).toBe('ran');
    // Refused on the first connection (its budget holds the first's window): opened on a second.
    const second = pool.openStream('hold');
    expect(await ran(second)).toBe('ran');
    expect(server.stats().connections).toBe(2);
    // Both full, and no third connection to open: refused unrun, and says so.
    const third = await ran(pool.openStream('hold'));
    expect(refusedUnrun(third)).toBe(true);
    expect(held).toHaveLength(2);
    // The first leaves: its connection takes a stream again.
    first.cancel();
    expect(await ran(pool.openStream('hold'))).toBe('ran');
    expect(held).toHaveLength(3);
    expect(server.stats().connections).toBe(2);
  });
});

describe('a FailoverPool whose server refuses a stream for a connection\'s budget', () => {
  it("opens it on that server's other connection, and counts no refusal against the server's breaker", async () => {
    const { address, held, gate } = await oneWindowServer();
    const events: string[] = [];
    const pool = new FailoverPool({
      transport,
      servers: [address],
      // No retries: only a placement on its server's other connection, which spends none, opens it.
      retries: 0,
      pool: { maxConnections: 2 },
      circuitBreaker: { minCalls: 2, failureRatio: 0.3 },
      onServerHealth: (e: ServerHealthEvent) => void events.push(e.kind),
    });
    cleanup.push(() => (gate.resolve(), within(pool.close(), 10_000, 'pool close')));
    const first = pool.openStream('hold');
    expect(await ran(first)).toBe('ran');
    const second = pool.openStream('hold');
    expect(await ran(second)).toBe('ran');
    // Every connection full: refused unrun after its attempts, the server still in rotation.
    for (let i = 0; i < 3; i++) expect(refusedUnrun(await ran(pool.openStream('hold')))).toBe(true);
    expect(held).toHaveLength(2);
    expect(events).toEqual([]);
    expect(pool.stats()[0]!.circuit).toBe('closed');
    // Room again (a stream left): the server takes the next one.
    first.cancel();
    expect(await ran(pool.openStream('hold'))).toBe('ran');
  });
});
