import { RpcError } from '@skein/core';
import { FailoverPool, RpcServer, createRouter, followDiscovery, type Registration } from '@skein/stream';
import { portOf, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar } from '../src/index.js';
import { etcdForFile, str, transport } from './harness.js';

const { cleanup, client } = etcdForFile();

const SERVERS = 100;
const WORKERS = 16;
const MAX_CALLS = 20_000;
const text = new TextDecoder();

interface Member {
  name: string;
  server: RpcServer;
  reg: Registration;
}

describe('100 servers joining and leaving under load', () => {
  it('loses no idempotent call and runs no call twice that is not idempotent', async () => {
    const prefix = 'churn/servers';
    /** Executions per call id, over every server. */
    const ran = new Map<number, number>();
    const servedBy = new Set<string>();
    const registrar = new EtcdRegistrar({ client: client(), prefix, ttlSeconds: 5 });
    const pool = new FailoverPool({ transport, servers: [], retries: 4, retryBudget: { ratio: 1, minRetriesPerSecond: 10_000 } });
    cleanup.push(() => within(pool.close(), 20_000, 'pool close'));
    const watch = followDiscovery(pool, new EtcdDiscovery({ client: client(), prefix }), { type: 'work' });
    cleanup.push(() => watch.close());

    const live: Member[] = [];
    const start = async (i: number): Promise<void> => {
      const name = `s${i}`;
      // Every tenth server is cut hard when it goes: calls on it fail mid-flight.
      const server = new RpcServer({
        closeWaitMs: i % 10 === 9 ? 0 : 2000,
        dispatch: createRouter({
          exec: async (req) => {
            const id = Number(text.decode(req.msg));
            ran.set(id, (ran.get(id) ?? 0) + 1);
            servedBy.add(name);
            await new Promise((r) => setTimeout(r, id % 7));
            return str(name);
          },
        }),
      });
      const a = await server.listen(transport, '127.0.0.1:0');
      cleanup.push(() => server.close());
      const reg = await registrar.register({ type: 'work', id: name, address: `127.0.0.1:${portOf(a)}` });
      cleanup.push(() => reg.close());
      live.push({ name, server, reg });
    };
    /** The oldest live server goes: a graceful one is withdrawn first, a hard one dies first. */
    const retire = async (): Promise<void> => {
      const m = live.shift()!;
      if (m.name.endsWith('9')) {
        await m.server.close();
        await m.reg.close();
      } else {
        await m.reg.close();
        await m.server.close();
      }
    };

    for (let i = 0; i < 10; i++) await start(i);
    await waitFor(() => pool.servers().length === 10, { what: 'the first ten servers' });

    const outcomes: { id: number; idempotent: boolean; error?: RpcError }[] = [];
    let next = 0;
    let churning = true;
    const worker = async (): Promise<void> => {
      while (churning && next < MAX_CALLS) {
        const id = next++;
        const idempotent = id % 2 === 0;
        try {
          await pool.call('exec', str(String(id)), { idempotent, timeoutMs: 10_000 });
          outcomes.push({ id, idempotent });
        } catch (err) {
          outcomes.push({ id, idempotent, error: err as RpcError });
        }
      }
    };
    const flood = Promise.all(Array.from({ length: WORKERS }, worker));
    for (let i = 10; i < SERVERS; i++) {
      await start(i);
      if (i % 2 === 0) await retire();
      // Let calls flow between changes, counted in calls rather than time.
      const mark = next;
      await waitFor(() => next >= mark + 20 || next >= MAX_CALLS, { what: 'calls between changes' });
    }
    churning = false;
    await within(flood, 60_000, 'the flood');

    const lostIdempotent = outcomes.filter((o) => o.idempotent && o.error);
    const doubled = outcomes.filter((o) => !o.idempotent && (ran.get(o.id) ?? 0) > 1);
    const safeButRan = outcomes.filter((o) => o.error?.retry === 'safe' && (ran.get(o.id) ?? 0) > 0);
    expect(lostIdempotent.map((o) => `${o.id}: ${o.error!.message}`)).toEqual([]);
    expect(doubled.map((o) => o.id)).toEqual([]);
    expect(safeButRan.map((o) => o.id)).toEqual([]);
    expect(outcomes.length).toBe(next);
    // The churn really happened under load: most servers served calls.
    expect(servedBy.size).toBeGreaterThanOrEqual(SERVERS / 2);
    // Waited for by the addresses, not their count: a watch still behind by a leave and a join
    // (the last retire and start) already has as many servers, with one gone among them.
    const addresses = (): string => JSON.stringify(pool.servers().map((s) => s.address).sort());
    const wanted = JSON.stringify(live.map((m) => m.reg.entry.address).sort());
    await waitFor(() => addresses() === wanted, { what: 'the pool to match the live servers' });
    expect(pool.servers().map((s) => s.address).sort()).toEqual(live.map((m) => m.reg.entry.address).sort());
  }, 120_000);
});
