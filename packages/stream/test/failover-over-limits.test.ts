import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { cleanups, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, RpcServer, createRouter } from '../src/index.js';
import { transport } from './harness.js';
import { str, textOf } from './pool-harness.js';

// A call over its server's declared limits (the hello's answer) is refused by the client, unsent:
// FrameTooLarge, `retry: 'safe'`. That is the caller's doing, not the server's: a FailoverPool
// gives up at once, spending no retry and moving no leader. What decides these tests is which
// server answered and whether a later real failover was allowed, never how long anything took.

const cleanup = cleanups();
const MAX_MESSAGE = 1024;

/** Servers a, b, c declaring maxMessage 1 KiB, each answering `who` with its name; `runs` counts its handler's runs. */
async function limitedServers() {
  const runs: Record<string, number> = {};
  const out: { name: string; server: RpcServer; address: string }[] = [];
  for (const name of ['a', 'b', 'c']) {
    const server = new RpcServer({ dispatch: createRouter({ who: () => ((runs[name] = (runs[name] ?? 0) + 1), str(name)) }, silentLogger), clients: { limits: { maxMessage: MAX_MESSAGE } }, closeWaitMs: 0 });
    const a = await server.listen(transport, '127.0.0.1:0');
    cleanup.push(() => server.close());
    out.push({ name, server, address: `${a.host}:${a.port}` });
  }
  return { servers: out, runs };
}

describe('a FailoverPool call over its server\'s limits, refused unsent', () => {
  it('gives up at once: no retry budget spent, no server marked failed, so a later real failover still goes', async () => {
    const { servers, runs } = await limitedServers();
    const seen: string[] = [];
    // A budget of 5 retries for the whole test (10 s of 0.5 a second, none earned).
    const pool = new FailoverPool({
      transport,
      servers: servers.map((s) => s.address),
      strategy: 'leader',
      retries: 2,
      retryBudget: { ratio: 0, minRetriesPerSecond: 0.5 },
      circuitBreaker: { minCalls: 2, failureRatio: 0.5 },
      shouldFailover: (err) => void seen.push((err as RpcError).codeName),
    });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    expect(textOf(await pool.call('who', str('hi')))).toBe('a');
    const health = JSON.stringify(pool.stats().map((s) => [s.address, s.healthy, s.circuit, s.ejected]));

    for (let i = 0; i < 40; i++) {
      const err = (await pool.call('who', new Uint8Array(2 * MAX_MESSAGE)).catch((e: unknown) => e)) as RpcError;
      expect([err.code, err.retry]).toEqual([ErrorCode.FrameTooLarge, 'safe']);
      expect(err.message).not.toMatch(/after \d+ attempts/);
    }
    // Nothing reached any server, no hook was asked, and the leader is where it was.
    expect(seen).toEqual([]);
    expect(runs).toEqual({ a: 1 });
    expect(textOf(await pool.call('who', str('hi')))).toBe('a');
    expect(JSON.stringify(pool.stats().map((s) => [s.address, s.healthy, s.circuit, s.ejected]))).toBe(health);

    // The leader goes away: the next call fails there and moves, which needs the budget the oversized calls left.
    await servers[0]!.server.close();
    const moved = await pool.call('who', str('hi'), { timeoutMs: 10_000 });
    expect(['b', 'c']).toContain(textOf(moved));
  });
});
