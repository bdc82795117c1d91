import { etcdAvailable, netnsUnavailable, waitFor, type Proc } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { netFixture as fixture, netLab, report, servedMore } from './net-fleet.js';

// Real hosts, as far as the network goes: each server, the client and etcd in a network
// namespace of their own, joined by a switch, with addresses of their own. Needs root (or
// CAP_NET_ADMIN): skipped with the reason otherwise.
const unavailable = netnsUnavailable() ?? (etcdAvailable() ? undefined : 'no etcd binary (install etcd-server)');

describe.skipIf(unavailable !== undefined)(`across network namespaces${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  const fleet = netLab(['etcd', 's1', 's2', 's3', 'client']);
  const procs = fleet.procs;
  let n = 0;

  /** Three servers on their hosts and a flooding client on its own, under a fresh prefix. */
  async function cluster(): Promise<{ client: Proc; address: (s: string) => string }> {
    const prefix = `lab${n++}`;
    const endpoint = fleet.etcd.endpoints[0]!;
    for (const s of ['s1', 's2', 's3']) {
      const h = fleet.lab.hosts[s]!;
      const p = h.start(process.execPath, [fixture('net-server.mjs'), endpoint, prefix, s, h.address]);
      procs.push(p);
      await p.waitForLine(/registered/);
    }
    const client = fleet.lab.hosts.client!.start(process.execPath, [fixture('net-client.mjs'), endpoint, prefix]);
    procs.push(client);
    await client.waitForLine(/flooding/);
    for (const s of ['s1', 's2', 's3']) await servedMore(client, s, 50);
    return { client, address: (s) => `${fleet.lab.hosts[s]!.address}:7000` };
  }

  it("routes around a host whose link goes down mid-flood, drops it when its lease expires, and takes it back when the link returns, with no failed call", async () => {
    const { client, address } = await cluster();
    const s2 = fleet.lab.hosts.s2!;
    s2.linkDown();
    await client.waitForLine(new RegExp(`member remove ${address('s2').replace(/\./g, '\\.')}`), 20_000);
    await servedMore(client, 's1', 200);
    const whileDown = report(client).by.s2 ?? 0;
    await servedMore(client, 's3', 200);
    expect(report(client).by.s2 ?? 0).toBe(whileDown);

    s2.linkUp();
    await waitFor(() => client.lines.filter((l) => l === `member add ${address('s2')}`).length === 2, { timeoutMs: 30_000, what: 's2 to register again and rejoin' });
    await servedMore(client, 's2', 100);
    const r = report(client);
    expect(r.failed).toEqual([]);
    expect(r.failures).toBe(0);
    expect(r.servers.map((s) => s.address).sort()).toEqual(['s1', 's2', 's3'].map(address).sort());
  }, 90_000);

  it('keeps the last known servers when the client is cut off from etcd, says so in a log line and its status, and is live again after', async () => {
    const { client, address } = await cluster();
    const host = fleet.lab.hosts.client!;
    host.cutFrom(fleet.lab.hosts.etcd!);
    await waitFor(() => report(client).status.state === 'stale', { timeoutMs: 20_000, what: 'the watch to go stale' });
    expect(client.lines.filter((l) => l.startsWith('log warn etcd discovery is stale: keeping the last known 3 server(s)'))).toHaveLength(1);
    for (const s of ['s1', 's2', 's3']) await servedMore(client, s, 100);
    expect(report(client).servers.map((s) => s.address).sort()).toEqual(['s1', 's2', 's3'].map(address).sort());

    host.healFrom(fleet.lab.hosts.etcd!);
    await waitFor(() => report(client).status.state === 'live', { timeoutMs: 30_000, what: 'the watch to be live again' });
    expect(client.lines.some((l) => l.startsWith('log info etcd discovery is live again'))).toBe(true);
    const r = report(client);
    expect(r.failures).toBe(0);
    expect(client.lines.filter((l) => l.startsWith('member remove'))).toEqual([]);
  }, 90_000);
});
