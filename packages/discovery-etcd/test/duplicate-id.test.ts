import { memoryLogger, waitFor } from '@skein/test-utils';
import type { DiscoveryEvent, Registration } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar } from '../src/index.js';
import { etcdForFile } from './harness.js';

const file = etcdForFile();
const { cleanup, client } = file;

let prefixes = 0;
const freshPrefix = () => `dup${++prefixes}/servers`;

/** A registration of `chat/a` at `address`, with its own logger; retries quickly. */
async function register(prefix: string, address: string) {
  const logger = memoryLogger();
  const reg = await new EtcdRegistrar({ client: client(), prefix, logger, backoff: { initialMs: 10, maxMs: 50 } }).register({ type: 'chat', id: 'a', address });
  cleanup.push(() => reg.close());
  return { reg, logger, said: () => logger.lines.filter((l) => l.level !== 'debug').map((l) => l.msg) };
}

/**
 * Every event a watch of the prefix sees, as `join 127.0.0.1:1`, `replace …`, `leave …`. Resolves
 * once it has read the (empty) prefix: a first read that came after the test's writes would
 * report only the last of them, as one join.
 */
async function watched(prefix: string): Promise<string[]> {
  const log: string[] = [];
  const w = new EtcdDiscovery({ client: client(), prefix }).watch((e: DiscoveryEvent) => void log.push(`${e.kind} ${e.entry.address}`));
  cleanup.push(() => w.close());
  await w.ready();
  return log;
}

/** Attempts to write the entry again, counted by the registration's debug lines. */
const attempts = (logger: ReturnType<typeof memoryLogger>) => logger.lines.filter((l) => l.msg === 'writing the entry again').length;

async function entry(prefix: string) {
  const kv = (await client().get(`${prefix}/chat/a`).exec()).kvs[0];
  return kv && { address: JSON.parse(kv.value.toString()).address as string, version: kv.version, lease: kv.lease };
}

const live = (r: Registration) => r.status().state === 'live';

describe('two live registrations of one id', () => {
  it('the newer keeps the key; the older says it lost it (stale, one warn line) and does not take it back', async () => {
    const prefix = freshPrefix();
    const log = await watched(prefix);
    const first = await register(prefix, '127.0.0.1:1');
    const second = await register(prefix, '127.0.0.1:2');
    const held = await entry(prefix);

    await waitFor(() => first.reg.status().state === 'stale', { what: 'the first to learn it lost its key' }); // before the fix: live for good
    expect(first.reg.status()).toMatchObject({ reason: 'another registration of this id took the entry' });
    // It waits for the key's delete (held-key.test.ts) instead of polling; it never writes over the newer one.
    await waitFor(() => first.logger.lines.some((l) => l.msg === 'waiting for the entry to be deleted'), { what: 'the first to wait' });
    expect(attempts(first.logger)).toBe(0);
    expect(await entry(prefix)).toEqual(held);
    expect(held).toMatchObject({ address: '127.0.0.1:2', version: '2' });
    expect(first.said()).toEqual(['another registration of this id took the entry: waiting for it to go']);
    expect(second.said()).toEqual([]);
    expect(live(second.reg)).toBe(true);

    // The older one closing (the restarted server's predecessor going) leaves the newer one listed.
    await first.reg.close();
    // A later change, to know that the watch has applied everything before it.
    await client().put(`${prefix}/marker/m`).value(JSON.stringify({ address: '127.0.0.1:9' }));
    await waitFor(() => log.includes('join 127.0.0.1:9'), { what: 'the watch to catch up' });
    expect(await entry(prefix)).toEqual(held);
    expect(log).toEqual(['join 127.0.0.1:1', 'replace 127.0.0.1:2', 'join 127.0.0.1:9']);
  });

  it('when the newer one goes, the older one writes the entry again and is live', async () => {
    const prefix = freshPrefix();
    const log = await watched(prefix);
    const first = await register(prefix, '127.0.0.1:1');
    const second = await register(prefix, '127.0.0.1:2');
    await waitFor(() => first.reg.status().state === 'stale', { what: 'the first to learn it lost its key' });

    await second.reg.close();
    await waitFor(() => live(first.reg), { what: 'the first live again' });
    expect(await entry(prefix)).toMatchObject({ address: '127.0.0.1:1' });
    await waitFor(() => log.length === 4, { what: 'the watch to see it' });
    expect(log).toEqual(['join 127.0.0.1:1', 'replace 127.0.0.1:2', 'leave 127.0.0.1:2', 'join 127.0.0.1:1']);
    expect(first.said()).toEqual(['another registration of this id took the entry: waiting for it to go', 'registered again']);
  });

  it('a registration whose key someone deleted writes it again (before the fix: live, and unlisted)', async () => {
    const prefix = freshPrefix();
    const only = await register(prefix, '127.0.0.1:1');
    await client().delete().key(`${prefix}/chat/a`);
    await waitFor(() => only.said().includes('registered again'), { what: 'the entry written again' });
    expect(only.said()).toEqual(['the entry was deleted: writing it again', 'registered again']);
    expect(await entry(prefix)).toMatchObject({ address: '127.0.0.1:1', version: '1' });
    expect(live(only.reg)).toBe(true);
  });
});
