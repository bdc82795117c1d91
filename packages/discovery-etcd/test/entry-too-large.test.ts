import { ErrorCode } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { EtcdRegistrar } from '../src/index.js';
import { etcdForFile } from './harness.js';

// One etcd as shipped (requests up to 1.5 MiB), one that takes requests of 4 KiB at most.
const plain = etcdForFile();
const strict = etcdForFile({ args: ['--max-request-bytes', '4096'] });

const entry = (id: string, metaBytes = 0) => ({ type: 'chat', id, address: '127.0.0.1:4000', meta: metaBytes ? { big: 'x'.repeat(metaBytes) } : undefined });

describe('a registration whose entry is too large', () => {
  it("is refused with InvalidArgument before anything is written; the client's other calls go on (before the fix: Unreachable, retry safe, and etcd3's breaker open for the whole client)", async () => {
    const client = plain.client();
    const registrar = new EtcdRegistrar({ client, prefix: 'big/servers' });
    const live = await registrar.register(entry('live'));
    plain.cleanup.push(() => live.close());

    const refused = await registrar.register(entry('big', 3 << 20)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toMatchObject({ code: ErrorCode.InvalidArgument });
    expect((refused as { retry?: unknown }).retry).toBe('never');
    expect((refused as Error).message).toMatch(/big\/servers\/chat\/big.*too large/);
    // Nothing of it in etcd, and the client still works: a read, and another registration.
    expect((await client.getAll().prefix('big/servers/').keys()).sort()).toEqual(['big/servers/chat/live']);
    const next = await registrar.register(entry('next'));
    plain.cleanup.push(() => next.close());
    expect(next.status().state).toBe('live');
    expect(live.status().state).toBe('live');
  }, 30_000);

  it("is refused with InvalidArgument when etcd's own limit (--max-request-bytes) is below it (before the fix: Unreachable, retry safe)", async () => {
    const registrar = new EtcdRegistrar({ client: strict.client(), prefix: 'strict/servers' });
    const refused = await registrar.register(entry('big', 8192)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toMatchObject({ code: ErrorCode.InvalidArgument });
    expect((refused as { retry?: unknown }).retry).toBe('never');
    expect((refused as Error).message).toMatch(/strict\/servers\/chat\/big.*too large/);
    const small = await registrar.register(entry('small'));
    strict.cleanup.push(() => small.close());
    expect(small.status().state).toBe('live');
  }, 30_000);
});
