import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, deferred, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, type ServerHealthEvent, type ServerRequest } from '../src/index.js';
import { startServer, transport, u32 } from './harness.js';
import { ran } from './stream-outcome.js';

/*
 * Only the server's own refusal of a stream for room on its connection (its stream budget, its
 * cap on open streams) says so, with its detail (`rpc_overloaded:no room for another stream on
 * this connection (stream budget)`), and only that one is opened again on the same server free
 * (`refusedForRoom`). A bare Overloaded (a handler's own refusal, a filter shedding load, a
 * downstream's passed on) counts as any refusal does: no free placement, the breaker counts it.
 * What decides each test is how many times a handler ran and what the client was told; no time.
 */

const cleanup = cleanups();

const WINDOW = 16 * 1024;

/** A server whose `refuse` handler answers bare Overloaded without reading (counting its runs), and whose `hold` sends an item as it runs, then waits. */
async function refusingServer(budgetWindows: number) {
  const gate = deferred();
  const held: ServerRequest[] = [];
  const runs = { refuse: 0 };
  const s = await startServer(
    {
      refuse: (req) => {
        runs.refuse++;
        req.fail(ErrorCode.Overloaded);
      },
      hold: async (req) => {
        held.push(req);
        await req.stream!.write(u32(held.length));
        await gate.promise;
        for await (const _ of req.stream!);
      },
    },
    { closeWaitMs: 0, streamWindowBytes: WINDOW, streamBudgetBytes: budgetWindows * WINDOW },
  );
  cleanup.push(() => (gate.resolve(), s.server.close()));
  return { ...s, held, runs, gate };
}

describe("a stream refused for room carries the server's sign", () => {
  it('reads as unrun, safe to open again, and names the cap', async () => {
    const { connect } = await refusingServer(1);
    const client = await connect({ keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    expect(await ran(client.openStream('hold'))).toBe('ran');
    const refused = await ran(client.openStream('hold'));
    expect(refused).toBeInstanceOf(RpcError);
    const err = refused as RpcError;
    expect(err.code).toBe(ErrorCode.Overloaded);
    expect(err.retry).toBe('safe');
    expect(err.message).toBe('no room for another stream on this connection (stream budget)');
    expect(client.streamRoom).toBe(0);
  });
});

describe('a bare Overloaded from a handler is no refusal for room', () => {
  it('a FailoverPool does not place it again on the same server, and its breaker counts it', async () => {
    const { address, runs } = await refusingServer(4);
    const events: string[] = [];
    const pool = new FailoverPool({
      transport,
      servers: [address],
      retries: 0,
      pool: { maxConnections: 2 },
      circuitBreaker: { minCalls: 2, failureRatio: 0.3 },
      onServerHealth: (e: ServerHealthEvent) => void events.push(e.kind),
    });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    for (let i = 0; i < 2; i++) {
      const r = await ran(pool.openStream('refuse'));
      expect(r instanceof RpcError && r.code === ErrorCode.Overloaded).toBe(true);
    }
    // Once each (placed again for room, it ran up to 9 times each), and the breaker saw both.
    expect(runs.refuse).toBe(2);
    expect(pool.stats()[0]!.circuit).toBe('open');
    expect(events).toContain('circuit-open');
  });

  it('a ConnPool does not open it again: the handler that refused may have done its work', async () => {
    const { address, runs } = await refusingServer(4);
    const pool = new ConnPool({ transport, address, maxConnections: 2 });
    cleanup.push(() => pool.close());
    const r = await ran(pool.openStream('refuse'));
    expect(r instanceof RpcError && r.code === ErrorCode.Overloaded).toBe(true);
    expect(runs.refuse).toBe(1);
  });
});

describe("a connection refused for room, one of whose streams then sent its END", () => {
  it('takes a stream again: the server freed that stream\'s unneeded budget at the END', async () => {
    const { connect, held } = await refusingServer(2);
    const client = await connect({ keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const [a, b] = [client.openStream('hold'), client.openStream('hold')];
    expect(await ran(a)).toBe('ran');
    expect(await ran(b)).toBe('ran');
    const refused = await ran(client.openStream('hold'));
    expect(refused instanceof RpcError && refused.retry === 'safe').toBe(true);
    expect(client.streamRoom).toBe(0);
    // A sent nothing: at its END the server holds none of the budget for it.
    a.end();
    expect(client.streamRoom).toBeGreaterThan(0);
    expect(await ran(client.openStream('hold'))).toBe('ran');
    expect(held).toHaveLength(3);
  });
});
