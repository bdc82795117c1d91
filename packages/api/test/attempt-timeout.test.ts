import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger } from '@skein/core';
import { FailoverPool, RpcServer } from '@skein/stream';
import { portOf, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, createCluster, createServiceDispatch, implement, method, service, type CallContext, type Member } from '../src/index.js';
import { transport } from './harness.js';

// `attemptTimeoutMs` reaches a FailoverPool from the typed API as `timeoutMs` does: per call in
// a stub's options (an idempotent method's options are rebuilt on the way, and must keep it),
// and for a cluster's type in its `pool` options. Server a hangs; b answers the ms its call had
// left when it came. Only a capped first attempt leaves the call time for b, and b's deadline is
// the cap (or a tick more, after waiting for its connection), never the call's whole 5 s.

const Svc = service('Svc', {
  left: method<void, number>().idempotent(),
});

const cleanup = cleanups();

async function member(id: string, hangs: boolean): Promise<Member & { calls: number }> {
  const m = { id, address: '', calls: 0 };
  const left = (_: void, ctx: CallContext): number | Promise<number> => {
    m.calls++;
    // Ends (unread) at its call's cancel or deadline.
    return hangs ? new Promise((resolve) => ctx.onAbort(() => resolve(-1))) : (ctx.remainingMs() ?? -1);
  };
  const server = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, logger: silentLogger, services: [implement(Svc, { left })] }) });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  m.address = `127.0.0.1:${portOf(a)}`;
  return m;
}

describe('attemptTimeoutMs from the typed API', () => {
  it("a stub call's own reaches the pool through an idempotent method's rebuilt options", async () => {
    const [a, b] = [await member('a', true), await member('b', false)];
    const pool = new FailoverPool({ transport, servers: [a.address, b.address], strategy: 'leader', pool: { stream: { tickMs: 20 } } });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    const left = await createClient(Svc, pool, { codec: msgpackCodec }).left(undefined, { timeoutMs: 5_000, attemptTimeoutMs: 100 });
    expect(left).toBeGreaterThan(-1);
    expect(left).toBeLessThan(1_000);
    expect([a.calls, b.calls]).toEqual([1, 1]);
  });

  it("a cluster type's pool option caps its calls' attempts", async () => {
    const [a, b] = [await member('a', true), await member('b', false)];
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      types: { game: { services: [Svc], servers: [a, b], strategy: 'leader', pool: { attemptTimeoutMs: 100, pool: { stream: { tickMs: 20 } } } } },
    });
    cleanup.push(() => rpc.$cluster.close());
    const left = await rpc.game.Svc.left(undefined, { timeoutMs: 5_000 });
    expect(left).toBeGreaterThan(-1);
    expect(left).toBeLessThan(1_000);
    expect([a.calls, b.calls]).toEqual([1, 1]);
  });
});
