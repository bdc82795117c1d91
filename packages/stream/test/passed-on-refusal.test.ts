import { ErrorCode, RpcError } from '@skein/core';
import { within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, FailoverPool } from '../src/index.js';
import { startServer, transport } from './harness.js';

const cleanup = cleanups();

describe('a handler that passes a downstream refusal on with req.fail(err)', () => {
  it.each([ErrorCode.Closed, ErrorCode.Overloaded])('runs once across two hops when the downstream refuses with %s', async (code) => {
    // The downstream refuses every call unrun, bare: its own word, which is safe to retry.
    const down = await startServer({ 'Down.work': (req) => req.fail(code) });
    cleanup.push(() => down.server.close());
    let runs = 0;
    const front = {
      // The handler did its part (counted), then passes on what the downstream said.
      op: async (req: Parameters<Parameters<typeof startServer>[0][string]>[0]) => {
        runs++;
        const s = await ClientStream.connect({ transport, address: down.address, keepaliveMs: 0 });
        try {
          await s.call('Down.work');
        } catch (err) {
          req.fail(err as RpcError);
        } finally {
          s.destroy();
        }
      },
    };
    const fronts = await Promise.all([startServer(front), startServer(front), startServer(front)]);
    for (const f of fronts) cleanup.push(() => f.server.close());
    const pool = new FailoverPool({ transport, servers: fronts.map((f) => f.address), retryBudget: { ratio: 10 } });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    const err = await pool.call('op').catch((e: unknown) => e);
    // The refusal spoke of the downstream: the front's handler ran, so the call is not retried.
    expect(runs).toBe(1);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code, retry: 'idempotent' });
  });
});
