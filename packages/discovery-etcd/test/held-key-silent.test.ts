import { memoryLogger, startTcpRelay, waitFor } from '@skein/test-utils';
import type { Registration } from '@skein/stream';
import type { Etcd3 } from 'etcd3';
import { describe, it } from 'vitest';
import { EtcdRegistrar } from '../src/index.js';
import { etcdForFile } from './harness.js';

const file = etcdForFile();
/** What a test opens, closed when it ends: the tests run at once, each on its own prefix, relay and clients. */
type Own = ReturnType<typeof file.forTest>;

let prefixes = 0;
const freshPrefix = () => `silent${++prefixes}/servers`;

/** A registration of `chat/a` at `address`, with its own logger. */
async function register(own: Own, c: Etcd3, prefix: string, address: string, ttlSeconds = 10) {
  const logger = memoryLogger();
  const reg = await new EtcdRegistrar({ client: c, prefix, logger, ttlSeconds, backoff: { initialMs: 10, maxMs: 50 } }).register({ type: 'chat', id: 'a', address });
  own.cleanup.push(() => reg.close());
  return { reg, logger };
}

/** Waits for the key's delete, counted by the registration's debug lines. */
const waits = (logger: ReturnType<typeof memoryLogger>) => logger.lines.filter((l) => l.msg === 'waiting for the entry to be deleted').length;

async function holder(own: Own, prefix: string) {
  const kv = (await own.client().get(`${prefix}/chat/a`).exec()).kvs[0];
  return kv && (JSON.parse(kv.value.toString()).address as string);
}

const live = (r: Registration) => r.status().state === 'live';

/** Two registrations of one id: the first waits for the key the second took. */
async function waitingAndHolding(own: Own, waitingClient: Etcd3, prefix: string, ttlSeconds?: number) {
  const waiting = await register(own, waitingClient, prefix, '127.0.0.1:1', ttlSeconds);
  const holding = await register(own, own.client(), prefix, '127.0.0.1:2');
  await waitFor(() => waits(waiting.logger) >= 1, { what: 'the first to wait for the key' });
  return { waiting, holding };
}

describe.concurrent('a registration waiting for a key whose watch dies without a word', () => {
  it('takes the key once freed although its link to etcd went dead silently (no reset, no error)', async (t) => {
    const { expect } = t;
    const own = file.forTest(t);
    const prefix = freshPrefix();
    const relay = await startTcpRelay(file.etcd.endpoints[0]!);
    own.cleanup.push(() => relay.close());
    // A short TTL bounds each look at the key over the dead link (every call waits one TTL at most).
    const { waiting, holding } = await waitingAndHolding(own, own.client(`http://${relay.address}`), prefix, 2);

    relay.stall(); // the waiting one's connection: dead, and nothing tells etcd3
    await holding.reg.close(); // the key is deleted; the delete never reaches the dead watch
    // Before the fix: it waited on that watch for good (the safety timeout failed the test).
    await waitFor(() => live(waiting.reg), { timeoutMs: 40_000, what: 'the waiting registration to take the freed key' });
    expect(await holder(own, prefix)).toBe('127.0.0.1:1');
  }, 60_000);

  it('waits again, without taking the key, when the key was rewritten unseen by its dead watch', async (t) => {
    const { expect } = t;
    const own = file.forTest(t);
    const prefix = freshPrefix();
    const relay = await startTcpRelay(file.etcd.endpoints[0]!);
    own.cleanup.push(() => relay.close());
    const { waiting, holding } = await waitingAndHolding(own, own.client(`http://${relay.address}`), prefix, 2);

    relay.stall();
    // The holder's key written again under its own lease: no delete, so the watch would say nothing.
    const key = `${prefix}/chat/a`;
    const kv = (await own.client().get(key).exec()).kvs[0]!;
    await own.client().put(key).value(kv.value).lease(kv.lease);
    // Before the change: one wait, on a dead watch, for good.
    await waitFor(() => waits(waiting.logger) >= 2, { timeoutMs: 40_000, what: 'a new wait after a look' });
    expect(await holder(own, prefix)).toBe('127.0.0.1:2');
    expect(live(waiting.reg)).toBe(false);
    expect(live(holding.reg)).toBe(true);

    await holding.reg.close();
    await waitFor(() => live(waiting.reg), { timeoutMs: 40_000, what: 'the waiting registration to take the freed key' });
    expect(await holder(own, prefix)).toBe('127.0.0.1:1');
  }, 90_000);
});
