import { startEtcd, startNetLab, waitFor, type EtcdCluster, type NetLab, type Proc } from '@skein/test-utils';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { fileURLToPath } from 'node:url';

// What the netns tests read of their fixtures' processes (fixtures/net-server.mjs and
// fixtures/net-client.mjs), in one place for every such test file.

/**
 * A describe block's hosts: `hosts` in network namespaces of their own (one named `etcd`, where
 * etcd runs), made before its tests and removed after them; `procs`, the processes a test
 * starts, killed after each test.
 */
export function netLab(hosts: string[]): { readonly lab: NetLab; readonly etcd: EtcdCluster; readonly procs: Proc[] } {
  const suite = { lab: undefined as NetLab | undefined, etcd: undefined as EtcdCluster | undefined, procs: [] as Proc[] };
  beforeAll(async () => {
    suite.lab = startNetLab(hosts);
    suite.etcd = await startEtcd({ host: suite.lab.hosts.etcd! });
  }, 60_000);
  afterEach(async () => {
    for (const p of suite.procs.splice(0)) {
      p.kill('SIGKILL');
      await p.exited;
    }
  });
  afterAll(async () => {
    await suite.etcd?.close();
    suite.lab?.close();
  });
  return {
    get lab() {
      return suite.lab!;
    },
    get etcd() {
      return suite.etcd!;
    },
    procs: suite.procs,
  };
}

export const netFixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

export interface Report {
  by: Record<string, number>;
  failed: string[];
  failures: number;
  status: { state: string; reason?: string };
  servers: { address: string; healthy: boolean }[];
}

/** The client's latest report line (an empty one before the first). */
export function report(client: Proc): Report {
  const line = [...client.lines].reverse().find((l) => l.startsWith('report '));
  if (!line) return { by: {}, failed: [], failures: 0, status: { state: 'none' }, servers: [] };
  return JSON.parse(line.slice(7)) as Report;
}

/** Waits until the client has answered `n` more calls from `server` than now. */
export async function servedMore(client: Proc, server: string, n: number): Promise<void> {
  const from = report(client).by[server] ?? 0;
  await waitFor(() => (report(client).by[server] ?? 0) >= from + n, { timeoutMs: 20_000, what: `${n} more calls answered by ${server}` });
}

/**
 * The `once` calls (not idempotent) of a client started with `once`: each server's `ran <n>`
 * lines counted by n, and the client's `answered <n> <server>` lines. Every call answered must
 * have run exactly once, and none may run twice.
 */
export function onceCalls(client: Proc, servers: readonly Proc[]): { runs: Map<number, number>; answered: Map<number, string> } {
  const runs = new Map<number, number>();
  for (const p of servers) for (const l of p.lines) {
    const m = /^ran (\d+)$/.exec(l);
    if (m) runs.set(Number(m[1]), (runs.get(Number(m[1])) ?? 0) + 1);
  }
  const answered = new Map<number, string>();
  for (const l of client.lines) {
    const m = /^answered (\d+) (\S+)$/.exec(l);
    if (m) answered.set(Number(m[1]), m[2]!);
  }
  return { runs, answered };
}
