import { memoryLogger, startTcpRelay, waitFor } from '@skein/test-utils';
import type { Registration } from '@skein/stream';
import type { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { EtcdRegistrar } from '../src/index.js';
import { etcdForFile } from './harness.js';

const file = etcdForFile();
const { cleanup, client } = file;

let prefixes = 0;
const freshPrefix = () => `held${++prefixes}/servers`;

/** A poll this far away never comes during a test: what the registration does, the watch did. */
const NEVER = 2 ** 31 - 1;

/** A registration of `chat/a` at `address`, with its own logger. */
async function register(c: Etcd3, prefix: string, address: string, backoff = { initialMs: 10, maxMs: 50 }) {
  const logger = memoryLogger();
  const reg = await new EtcdRegistrar({ client: c, prefix, logger, backoff }).register({ type: 'chat', id: 'a', address });
  cleanup.push(() => reg.close());
  return { reg, logger, said: () => logger.lines.filter((l) => l.level !== 'debug').map((l) => l.msg) };
}

/** Attempts to write the entry again, counted by the registration's debug lines. */
const attempts = (logger: ReturnType<typeof memoryLogger>) => logger.lines.filter((l) => l.msg === 'writing the entry again').length;

/** Waits for the key's delete, counted by the registration's debug lines. */
const waits = (logger: ReturnType<typeof memoryLogger>) => logger.lines.filter((l) => l.msg === 'waiting for the entry to be deleted').length;

/**
 * Every change of the key, in order, as `put <address>` or `delete`. Resolves once etcd has the
 * watch: one only being set up (`watcher()`) starts at whatever revision etcd has when it gets it,
 * and would miss a write the test makes meanwhile through another client.
 */
async function keyEvents(prefix: string): Promise<string[]> {
  const log: string[] = [];
  const w = await client().watch().key(`${prefix}/chat/a`).create();
  w.on('put', (kv) => void log.push(`put ${JSON.parse(kv.value.toString()).address}`));
  w.on('delete', () => void log.push('delete'));
  cleanup.push(() => w.cancel());
  return log;
}

async function holder(prefix: string) {
  const kv = (await client().get(`${prefix}/chat/a`).exec()).kvs[0];
  return kv && { address: JSON.parse(kv.value.toString()).address as string, lease: kv.lease };
}

const live = (r: Registration) => r.status().state === 'live';

describe('a registration waiting for a key another one holds', () => {
  it('takes it when the holder deletes it, not on its next poll', async () => {
    const prefix = freshPrefix();
    const events = await keyEvents(prefix);
    // Its poll would come in weeks: only the delete can wake it in time.
    const waiting = await register(client(), prefix, '127.0.0.1:1', { initialMs: NEVER, maxMs: NEVER });
    const holding = await register(client(), prefix, '127.0.0.1:2');
    await waitFor(() => waiting.reg.status().state === 'stale', { what: 'the first to see its key taken' });

    await holding.reg.close();
    // Before the fix: stale until the poll, weeks away (the safety timeout fails the test).
    await waitFor(() => live(waiting.reg), { timeoutMs: 20_000, what: 'the waiting registration to take the freed key' });
    expect(events).toEqual(['put 127.0.0.1:1', 'put 127.0.0.1:2', 'delete', 'put 127.0.0.1:1']);
    expect(await holder(prefix)).toMatchObject({ address: '127.0.0.1:1' });
    // One write, the one the delete started.
    expect(attempts(waiting.logger)).toBe(1);
    expect(waiting.said()).toEqual(['another registration of this id took the entry: waiting for it to go', 'registered again']);
  }, 30_000);

  it('when its watch breaks it looks once (it may have missed the delete), and leaves a live holder its key', async () => {
    const prefix = freshPrefix();
    const relay = await startTcpRelay(file.etcd.endpoints[0]!);
    cleanup.push(() => relay.close());
    const waiting = await register(client(`http://${relay.address}`), prefix, '127.0.0.1:1');
    const holding = await register(client(), prefix, '127.0.0.1:2');
    await waitFor(() => waiting.reg.status().state === 'stale', { what: 'the first to see its key taken' });
    const held = await holder(prefix);

    relay.cut(); // a broken link between the waiting registration and etcd
    // (etcd3 may hold the look back while its circuit breaker, opened by the cut, is open.)
    await waitFor(() => waits(waiting.logger) >= 2, { timeoutMs: 20_000, what: 'a look after the watch broke, and a new wait' });
    expect(attempts(waiting.logger)).toBeGreaterThanOrEqual(1);
    expect(await holder(prefix)).toEqual(held);
    expect(live(holding.reg)).toBe(true);

    await holding.reg.close(); // seen by the new wait
    await waitFor(() => live(waiting.reg), { timeoutMs: 20_000, what: 'the waiting registration to take the freed key' });
    expect(await holder(prefix)).toMatchObject({ address: '127.0.0.1:1' });
  }, 30_000);

  it('closed while it waits, it does not write the key when the holder lets it go', async () => {
    const prefix = freshPrefix();
    const events = await keyEvents(prefix);
    const waiting = await register(client(), prefix, '127.0.0.1:1');
    const holding = await register(client(), prefix, '127.0.0.1:2');
    await waitFor(() => waits(waiting.logger) >= 1, { what: 'the first to wait' });
    await waiting.reg.close();
    await holding.reg.close();
    // A later change, to know that every change before it has been seen.
    await client().put(`${prefix}/chat/a`).value(JSON.stringify({ address: '127.0.0.1:9' }));
    await waitFor(() => events.length === 4, { what: 'the marker' });
    expect(events).toEqual(['put 127.0.0.1:1', 'put 127.0.0.1:2', 'delete', 'put 127.0.0.1:9']);
    expect(attempts(waiting.logger)).toBe(0);
    expect(waiting.reg.status().state).toBe('closed');
  });
});
