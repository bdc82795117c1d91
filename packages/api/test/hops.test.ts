import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger, type Clock } from '@skein/core';
import { ManualClock, deferred, portOf, cleanups } from '@skein/test-utils';
import { ClientStream, RpcServer } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service, type CallContext, type Client } from '../src/index.js';
import { transport } from './harness.js';

const cleanup = cleanups();

const codec = msgpackCodec;
const Hop = service('Hop', { go: method<number, number>() });

/** What each hop's handler saw. */
interface Seen {
  deadline: number | undefined;
  remaining: number | undefined;
  aborted: Promise<unknown>;
  metadata: Readonly<Record<string, string>>;
}

/**
 * Three servers in a row: hop 0 calls hop 1 with its ctx, hop 1 calls hop 2, hop 2 waits on its
 * signal. `before(i)` runs in hop i's handler before it calls on.
 */
async function chain(clock: Clock | undefined, before: (i: number) => void = () => {}) {
  const seen: Seen[] = [];
  const started = [deferred<void>(), deferred<void>(), deferred<void>()];
  let next: Client<typeof Hop> | undefined;
  const clients: Client<typeof Hop>[] = [];
  for (let i = 2; i >= 0; i--) {
    const downstream = next;
    const server = new RpcServer({
      dispatch: createServiceDispatch({
        codec,
        logger: silentLogger,
        services: [
          implement(Hop, {
            go: async (n: number, ctx: CallContext) => {
              const aborted = new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(ctx.signal.reason)));
              seen[i] = { deadline: ctx.deadline, remaining: ctx.remainingMs(), aborted, metadata: ctx.metadata };
              started[i]!.resolve();
              before(i);
              if (!downstream) return aborted.then(() => -1);
              return (await downstream.go(n + 1, { ctx })) + 1;
            },
          }),
        ],
      }),
      clock,
      closeWaitMs: 0,
      logger: silentLogger,
    });
    cleanup.push(() => server.close());
    const a = await server.listen(transport, '127.0.0.1:0');
    const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}` });
    cleanup.push(() => stream.destroy());
    await stream.ping(); // the hello is answered: calls go with their heads
    next = createClient(Hop, stream, { codec });
    clients.unshift(next);
  }
  return { first: clients[0]!, seen, started };
}

describe('three hops', () => {
  it('cancelling the first call stops the third handler (and every one between)', async () => {
    const { first, seen, started } = await chain(undefined);
    const ac = new AbortController();
    const call = first.go(0, { signal: ac.signal }).catch((e: RpcError) => e);
    await started[2]!.promise;
    ac.abort();
    expect(((await call) as RpcError).code).toBe(ErrorCode.Cancelled);
    const reasons = (await Promise.all(seen.map((s) => s.aborted))) as RpcError[];
    expect(reasons.map((r) => r.code)).toEqual([ErrorCode.Cancelled, ErrorCode.Cancelled, ErrorCode.Cancelled]);
  });

  it('the deadline travels: each hop gets exactly what is left, and all stop at it', async () => {
    const clock = new ManualClock();
    // Each hop spends 1 s (by the servers' clock) before it calls on.
    const { first, seen, started } = await chain(clock, () => clock.advance(1000));
    const t0 = clock.time;
    const call = first.go(0, { timeoutMs: 60_000 }).catch((e: RpcError) => e);
    await started[2]!.promise;
    expect(seen.map((s) => s.deadline)).toEqual([t0 + 60_000, t0 + 60_000, t0 + 60_000]);
    expect(seen.map((s) => s.remaining)).toEqual([60_000, 59_000, 58_000]);
    // Hop 2 spent its second too; 57 s are left. The deadline passes for all three at once.
    clock.advance(57_000);
    const reasons = (await Promise.all(seen.map((s) => s.aborted))) as RpcError[];
    expect(reasons.map((r) => r.code)).toEqual([ErrorCode.Timeout, ErrorCode.Timeout, ErrorCode.Timeout]);
    expect(((await call) as RpcError).code).toBe(ErrorCode.Timeout);
  });

  it('a call without a deadline makes none downstream; metadata is per call, not inherited', async () => {
    const { first, seen, started } = await chain(undefined);
    const ac = new AbortController();
    const call = first.go(0, { signal: ac.signal, metadata: { traceparent: 't' } }).catch((e: RpcError) => e);
    await started[2]!.promise;
    expect(seen.map((s) => s.deadline)).toEqual([undefined, undefined, undefined]);
    expect(seen.map((s) => s.metadata)).toEqual([{ traceparent: 't' }, {}, {}]);
    ac.abort();
    await call;
  });
});
