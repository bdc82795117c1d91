import { memoryLogger, waitFor } from '@skein/test-utils';
import { discoveryEntry } from '@skein/stream';
import type { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, encodeValue, keyOf } from '../src/index.js';
import { etcdForFile } from './harness.js';

// etcd takes requests up to 1.5 MiB unless told otherwise; raised, a single value can be past
// the 4 MiB a gRPC client takes in one message.
const file = etcdForFile({ args: ['--max-request-bytes', String(8 << 20)] });
const { cleanup, client } = file;

let prefixes = 0;
const freshPrefix = () => `huge${++prefixes}/servers`;
const huge = 'x'.repeat(5 << 20);

async function put(c: Etcd3, prefix: string, id: string): Promise<void> {
  const e = discoveryEntry({ type: 'chat', id, address: `127.0.0.1:${4000 + Number(id.slice(1))}` });
  await c.put(keyOf(prefix, e)).value(encodeValue(e));
}

function follow(prefix: string) {
  const logger = memoryLogger();
  const watch = new EtcdDiscovery({ client: client(), prefix, logger, retry: { initialMs: 50, maxMs: 200 } }).watch(() => undefined);
  cleanup.push(() => watch.close());
  const skipped = () => logger.lines.filter((l) => l.msg === 'ignoring a discovery entry too large to read').map((l) => l.obj.key);
  return { watch, logger, skipped };
}

const ids = (w: { entries(): { id: string }[] }): string => w.entries().map((x) => x.id).sort().join();

describe('a single value larger than one gRPC message (etcd run with a raised --max-request-bytes)', () => {
  it('is skipped with a warn line when it is there before the watch starts; the rest is read and followed', async () => {
    const prefix = freshPrefix();
    const writer = client();
    await put(writer, prefix, 'c1');
    await writer.put(`${prefix}/chat/huge`).value(huge);

    const f = follow(prefix);
    await f.watch.ready(); // before the fix: never
    expect(f.watch.status().state).toBe('live');
    expect(ids(f.watch)).toBe('c1');
    await put(writer, prefix, 'c2');
    await waitFor(() => ids(f.watch) === 'c1,c2', { what: 'a later change' });
    expect(f.skipped()).toEqual([`${prefix}/chat/huge`]);
  }, 60_000);

  it('is skipped with a warn line when it is written while watching; the watch goes on, and reads each version once', async () => {
    const prefix = freshPrefix();
    const writer = client();
    await put(writer, prefix, 'c1');
    await writer.put(`${prefix}/chat/h1`).value(huge);
    const f = follow(prefix);
    await f.watch.ready();

    // Breaks the watch (one response past the limit): the view is read again, h1 unchanged.
    await writer.put(`${prefix}/chat/h2`).value(huge);
    await put(writer, prefix, 'c2');
    await waitFor(() => f.watch.status().state === 'live' && ids(f.watch) === 'c1,c2', { timeoutMs: 30_000, what: 'the watch past the huge value' });
    await writer.put(`${prefix}/chat/h1`).value(huge);
    await put(writer, prefix, 'c3');
    await waitFor(() => f.watch.status().state === 'live' && ids(f.watch) === 'c1,c2,c3', { timeoutMs: 30_000, what: 'the watch past it again' });
    // Asking again for a value known too large would trip etcd3's circuit breaker each time.
    expect(f.skipped()).toEqual([`${prefix}/chat/h1`, `${prefix}/chat/h2`, `${prefix}/chat/h1`]);
  }, 90_000);
});
