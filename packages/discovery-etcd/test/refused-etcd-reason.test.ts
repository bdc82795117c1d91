import { ErrorCode } from '@skein/core';
import { freePort, memoryLogger, waitFor, within } from '@skein/test-utils';
import { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar } from '../src/index.js';

// What an operator reads when etcd is out of reach at start-up (a real client dialling a port
// nothing listens on). Before: a refused registration and a stale watch ended their reason with
// gRPC's empty "Resolution note: ", and a watch sharing the client with a registration that had
// just failed said only cockatiel's "Execution prevented because the circuit breaker is open":
// no etcd named, read as a Skein pool's breaker.

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function deadEtcd(): Promise<{ client: Etcd3; where: string }> {
  const where = `127.0.0.1:${await freePort()}`;
  const client = new Etcd3({ hosts: `http://${where}`, dialTimeout: 2000 });
  cleanup.push(() => client.close());
  return { client, where };
}

/** The first stale reason of a watch on `client`, and what `ready()` rejects with then. */
async function staleReason(client: Etcd3): Promise<{ reason: string; ready: Error }> {
  const logger = memoryLogger();
  const watch = new EtcdDiscovery({ client, prefix: 'refused/servers', logger, backoff: { initialMs: 50, maxMs: 200 } }).watch(() => {});
  cleanup.push(() => watch.close());
  const line = await waitFor(() => logger.lines.find((l) => l.level === 'warn'), { timeoutMs: 30_000, what: 'the stale line' });
  const ready = await within(watch.ready({ timeoutMs: 1 }).then(() => undefined, (e: unknown) => e), 10_000, 'ready() to settle');
  expect(ready).toMatchObject({ code: ErrorCode.Timeout });
  return { reason: String(line.obj.reason), ready: ready as Error };
}

describe('etcd out of reach at start-up', () => {
  it('a registration refused: Unreachable, naming the refusal, with no empty "Resolution note"', async () => {
    const { client, where } = await deadEtcd();
    const err = await new EtcdRegistrar({ client }).register({ type: 'ledger', id: 'l-1', address: '127.0.0.1:4000' }).then(() => undefined, (e: unknown) => e as Error);
    expect(err).toMatchObject({ code: ErrorCode.Unreachable, retry: 'safe' });
    expect(err!.message).toContain(`registering skein/servers/ledger/l-1 in etcd failed: `);
    expect(err!.message).toContain(`ECONNREFUSED ${where}`);
    expect(err!.message).not.toMatch(/Resolution note/);
  }, 60_000);

  it('a watch on its own client: the refusal, with no empty "Resolution note"', async () => {
    const { client, where } = await deadEtcd();
    const { reason, ready } = await staleReason(client);
    expect(reason).toContain(`ECONNREFUSED ${where}`);
    expect(reason).not.toMatch(/Resolution note/);
    expect(ready.message).not.toMatch(/Resolution note/);
  }, 60_000);

  it("a watch on a client whose breaker a failed registration opened: names etcd3's breaker and the etcd", async () => {
    const { client, where } = await deadEtcd();
    // etcd3 sends a failed write three times, which opens its breaker for the client.
    await expect(new EtcdRegistrar({ client }).register({ type: 'ledger', id: 'l-1', address: '127.0.0.1:4000' })).rejects.toMatchObject({ code: ErrorCode.Unreachable });
    const { reason, ready } = await staleReason(client);
    expect(reason).toBe(`reading refused/servers/ failed: etcd3's circuit breaker for etcd at ${where} is open: earlier calls on this client failed, and it makes none until its pause is over (Execution prevented because the circuit breaker is open)`);
    expect(ready.message).toContain(`the watch is stale: ${reason}`);
  }, 60_000);
});
