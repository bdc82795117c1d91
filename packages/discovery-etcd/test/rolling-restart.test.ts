import { FailoverPool, followDiscovery } from '@skein/stream';
import { startProcess, waitFor, within, type Proc } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery } from '../src/index.js';
import { etcdForFile, transport } from './harness.js';

// An operator's rolling restart: three server processes, each SIGTERMed in turn under a steady
// load and started again. Each withdraws its entry, then closes (the order the README gives).
// Nothing the docs promise may fail: no idempotent call fails, no call runs twice, and a call
// that is not idempotent fails only if it never ran.

const file = etcdForFile();
const { cleanup, client } = file;
const FIXTURE = fileURLToPath(new URL('./fixtures/sigterm-server.mjs', import.meta.url));
const utf8 = new TextEncoder();

describe('a rolling restart of three server processes by SIGTERM', () => {
  it('fails no call, runs none twice, and withdraws each entry before its server closes', async () => {
    const prefix = `rolling-${Date.now()}/servers`;
    const etcd = client();
    const procs: Proc[] = [];
    const start = async (id: string): Promise<Proc> => {
      const p = startProcess(process.execPath, [FIXTURE, file.etcd.endpoints[0]!, prefix, id]);
      procs.push(p);
      cleanup.push(async () => {
        p.kill('SIGKILL');
        await p.exited;
      });
      await p.waitForLine(/registered /);
      return p;
    };
    const pool = new FailoverPool({ transport, servers: [] });
    cleanup.push(() => within(pool.close(), 20_000, 'pool close'));
    const watch = followDiscovery(pool, new EtcdDiscovery({ client: etcd, prefix }), { type: 'work' });
    cleanup.push(() => watch.close());
    const live = new Map<string, Proc>();
    for (const id of ['s1', 's2', 's3']) live.set(id, await start(id));
    await waitFor(() => pool.servers().length === 3, { what: 'three servers in the pool' });

    let stop = false;
    let next = 0;
    const failures: string[] = [];
    const answered = new Set<number>();
    const caller = async (): Promise<void> => {
      while (!stop) {
        await pool.call('who', utf8.encode(''), { idempotent: true }).catch((e: Error) => failures.push(`who: ${e.message}`));
        const n = ++next;
        await pool.call('once', utf8.encode(String(n))).then(
          () => answered.add(n),
          (e: Error) => failures.push(`once ${n}: ${e.message}`),
        );
      }
    };
    const callers = Array.from({ length: 8 }, caller);

    for (const id of ['s1', 's2', 's3']) {
      const p = live.get(id)!;
      const key = `${prefix}/work/${id}`;
      p.kill('SIGTERM');
      await p.waitForLine(/^withdrawn$/);
      // close() resolved: the entry is gone from etcd, and the server has not closed yet.
      expect(await etcd.get(key).string()).toBeNull();
      expect(await p.exited).toBe(0);
      const lines = p.lines.filter((l) => l === 'withdrawn' || l === 'closed');
      expect(lines).toEqual(['withdrawn', 'closed']);
      live.set(id, await start(id));
      await waitFor(() => pool.servers().length === 3, { what: `${id} back in the pool` });
    }
    stop = true;
    await Promise.all(callers);

    const countRuns = (): Map<number, number> => {
      const runs = new Map<number, number>();
      for (const p of procs) for (const l of p.lines) {
        const m = /^ran (\d+)$/.exec(l);
        if (m) runs.set(Number(m[1]), (runs.get(Number(m[1])) ?? 0) + 1);
      }
      return runs;
    };
    // A server prints "ran n" before it answers, but its stdout is a pipe, written asynchronously:
    // the answer can reach this process before the line does. Every answered call's line comes.
    // The lines are counted once per look, not once per answered call: thousands of calls are
    // answered, and counting all lines for each of them took minutes of CPU (quadratic).
    await waitFor(
      () => {
        const runs = countRuns();
        return [...answered].every((n) => runs.has(n));
      },
      { what: "every answered call's ran line" },
    );
    const runs = countRuns();
    expect(failures).toEqual([]);
    expect([...runs].filter(([, c]) => c > 1)).toEqual([]);
    for (const n of answered) expect(runs.get(n), `call ${n}`).toBe(1);
    expect(answered.size).toBeGreaterThan(0);
    // A hang guard, not a bound on speed: three server processes started and drained in turn,
    // etcd leases (11 s alone on this 2-core VM once the ran lines were counted once per look;
    // 25 to 196 s before, most of it that count).
  }, 240_000);
});
