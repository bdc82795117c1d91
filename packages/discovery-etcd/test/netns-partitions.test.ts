import { etcdAvailable, netnsUnavailable, waitFor, type Proc } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { netFixture, netLab, onceCalls, report, servedMore } from './net-fleet.js';

// Partitions that cut a host from etcd only, not from the others: each server, the client and
// etcd on hosts of their own (network namespaces, see netns.test.ts). The client calls `who`
// (idempotent) and `once` (not idempotent, each numbered and counted where it runs) all along.
// Needs root (or CAP_NET_ADMIN): skipped with the reason otherwise.
const unavailable = netnsUnavailable() ?? (etcdAvailable() ? undefined : 'no etcd binary (install etcd-server)');

describe.skipIf(unavailable !== undefined)(`partitions from etcd alone${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  const fleet = netLab(['etcd', 's1', 's2', 's3', 's4', 'client']);
  const procs = fleet.procs;
  let n = 0;

  const address = (s: string): string => `${fleet.lab.hosts[s]!.address}:7000`;
  const memberLines = (client: Proc): string[] => client.lines.filter((l) => l.startsWith('member '));

  /** A server on its host, registered under `prefix`; its `once` answers `onceMs` after it starts. */
  async function server(prefix: string, s: string, onceMs = 0): Promise<Proc> {
    const h = fleet.lab.hosts[s]!;
    const p = h.start(process.execPath, [netFixture('net-server.mjs'), fleet.etcd.endpoints[0]!, prefix, s, h.address, String(onceMs)]);
    procs.push(p);
    await p.waitForLine(/registered/);
    return p;
  }

  /** The client on its host, calling `who` and `once`, once it has had answers from each of `servers`. */
  async function client(prefix: string, servers: readonly string[]): Promise<Proc> {
    const c = fleet.lab.hosts.client!.start(process.execPath, [netFixture('net-client.mjs'), fleet.etcd.endpoints[0]!, prefix, 'once']);
    procs.push(c);
    await c.waitForLine(/flooding/);
    for (const s of servers) await servedMore(c, s, 20);
    return c;
  }

  /** Every `once` call answered ran exactly once, and none ran twice (answered or not). */
  async function expectOnceEach(c: Proc, servers: readonly Proc[]): Promise<number> {
    // A server's "ran n" line is written to a pipe: it may reach us after the client's answer.
    await waitFor(
      () => {
        const { runs, answered } = onceCalls(c, servers);
        return [...answered.keys()].every((k) => runs.has(k));
      },
      { what: "every answered call's ran line" },
    );
    const { runs, answered } = onceCalls(c, servers);
    expect([...runs].filter(([, count]) => count > 1)).toEqual([]);
    expect(answered.size).toBeGreaterThan(0);
    return answered.size;
  }

  it('a server cut from etcd but not from its clients: its calls in flight are answered when its lease expires and it leaves, none runs twice, and it joins again once healed', async () => {
    const prefix = `part${n++}`;
    // s2's `once` takes 3 s, the others' none: the client's `once` callers spend nearly all
    // their time on s2, so calls are in flight there when it leaves.
    const servers = [await server(prefix, 's1'), await server(prefix, 's2', 3000), await server(prefix, 's3')];
    const c = await client(prefix, ['s1', 's2', 's3']);
    const s2 = fleet.lab.hosts.s2!;

    s2.cutFrom(fleet.lab.hosts.etcd!);
    const removed = `member remove ${address('s2')}`;
    await c.waitForLine(new RegExp(`^${removed.replace(/\./g, '\\.')}$`), 20_000);
    // New calls go to the others while s2 is out of the pool.
    await servedMore(c, 's1', 200);
    await servedMore(c, 's3', 200);

    s2.healFrom(fleet.lab.hosts.etcd!);
    await waitFor(() => memberLines(c).filter((l) => l === `member add ${address('s2')}`).length === 2, { timeoutMs: 30_000, what: 's2 to register again and rejoin' });
    await servedMore(c, 's2', 50);

    // Calls sent before s2 left and answered by it: in flight there when it left, and finished,
    // not failed nor moved (its `once` takes 3 s, so one is there at nearly any moment).
    const at = c.lines.indexOf(removed);
    const sentBefore = new Set(c.lines.slice(0, at).filter((l) => l.startsWith('sent ')).map((l) => Number(l.slice(5))));
    await waitFor(() => report(c).failures > 0 || [...sentBefore].every((k) => onceCalls(c, []).answered.has(k)), { what: 'the calls sent before s2 left to be answered' });
    const r = report(c);
    expect(r.failed).toEqual([]);
    expect(r.failures).toBe(0);
    const answeredBefore = new Set(c.lines.slice(0, at).filter((l) => l.startsWith('answered ')));
    const finishedThere = [...onceCalls(c, []).answered].filter(([k, s]) => s === 's2' && sentBefore.has(k) && !answeredBefore.has(`answered ${k} s2`));
    expect(finishedThere.length).toBeGreaterThan(0);
    await expectOnceEach(c, servers);
    expect(memberLines(c)).toEqual([...['s1', 's2', 's3'].map((s) => `member add ${address(s)}`), removed, `member add ${address('s2')}`]);
    expect(r.servers.map((s) => s.address).sort()).toEqual(['s1', 's2', 's3'].map(address).sort());
    // A hang guard, not a bound on speed: about 15 s alone (a 2 s lease, its expiry and rewrite).
  }, 60_000);

  it('a client cut from etcd keeps calling while a server leaves gracefully and another joins, then catches up on both once healed: no ghost, nothing twice', async () => {
    const prefix = `part${n++}`;
    const servers = [await server(prefix, 's1'), await server(prefix, 's2'), await server(prefix, 's3')];
    const c = await client(prefix, ['s1', 's2', 's3']);
    const host = fleet.lab.hosts.client!;
    const before = memberLines(c).length;

    host.cutFrom(fleet.lab.hosts.etcd!);
    await waitFor(() => report(c).status.state === 'stale', { timeoutMs: 20_000, what: 'the watch to go stale' });
    // s3 leaves as the README says (withdrawn, then closed) unseen by the client, which still
    // lists it: its calls must go to the others, and none that is not idempotent twice.
    const s3 = servers[2]!;
    s3.kill('SIGTERM');
    expect(await s3.exited).toBe(0);
    expect(s3.lines.filter((l) => l === 'withdrawn' || l === 'closed')).toEqual(['withdrawn', 'closed']);
    servers.push(await server(prefix, 's4'));
    // Once the client finds s3 down (its connection refused), every answer s3 gave is counted.
    const s3Down = (): boolean => report(c).servers.some((s) => s.address === address('s3') && !s.healthy);
    await waitFor(s3Down, { timeoutMs: 20_000, what: 'the client to find s3 down' });
    const s3Calls = report(c).by.s3 ?? 0;
    await servedMore(c, 's1', 200);
    await servedMore(c, 's2', 200);
    expect(report(c).by.s3 ?? 0).toBe(s3Calls);
    // Nothing about the membership changed while the client could not hear etcd.
    expect(memberLines(c).length).toBe(before);

    host.healFrom(fleet.lab.hosts.etcd!);
    const truth = JSON.stringify(['s1', 's2', 's4'].map(address).sort());
    const pool = (): string => JSON.stringify(report(c).servers.map((s) => s.address).sort());
    await waitFor(() => report(c).status.state === 'live' && pool() === truth, { timeoutMs: 30_000, what: `the watch live again and the pool ${truth}` }).catch((err: Error) => {
      throw new Error(`${err.message}; the pool: ${pool()}, the watch: ${JSON.stringify(report(c).status)}`);
    });
    await servedMore(c, 's4', 50);
    const r = report(c);
    expect(r.failed).toEqual([]);
    expect(r.failures).toBe(0);
    // What it missed, once each: s3's leave and s4's join.
    expect(memberLines(c).slice(before).sort()).toEqual([`member add ${address('s4')}`, `member remove ${address('s3')}`]);
    await expectOnceEach(c, servers);
    // A hang guard, not a bound on speed: about 15 s alone.
  }, 60_000);
});
