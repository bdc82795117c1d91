import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RemoteError, RpcError, codeErrors } from '@skein/core';
import { freePort, portOf, within, cleanups } from '@skein/test-utils';
import { ClientStream, FailoverPool, RpcServer, type CallOptions, type FailoverPoolOptions } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service, type Filter } from '../src/index.js';
import { transport } from './harness.js';

// The central promise across hops, at the API layer: a method that is not idempotent runs at
// most once, however many servers stand between the client and the failure.

class Busy extends Error {}
const Front = service('Front', {
  op: method<void, string>(),
  declared: method<void, string>().throws(codeErrors({ 1: Busy })),
});

const cleanup = cleanups();

async function listen(server: RpcServer): Promise<string> {
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return `127.0.0.1:${portOf(a)}`;
}

/** A server that refuses every call itself, before dispatching it (a throttle, a draining server). */
const refusingServer = (code: ErrorCode): Promise<string> => listen(new RpcServer({ dispatch: { dispatch: (req) => req.fail(code) } }));

interface Fronts {
  addresses: string[];
  /** Handler runs, summed over the fronts. */
  runs(): number;
}

/** Three Front servers whose handlers call the downstream at `downstream`, passing its failure on. */
async function fronts(downstream: string, filters: (i: number) => Filter[] = () => []): Promise<Fronts> {
  let runs = 0;
  const handlers = {
    op: async () => {
      runs++;
      const s = await ClientStream.connect({ transport, address: downstream });
      try {
        await s.call('Down.work');
        return 'done';
      } finally {
        s.destroy();
      }
    },
    declared: () => {
      runs++;
      throw new Busy();
    },
  };
  const addresses: string[] = [];
  for (let i = 0; i < 3; i++) {
    const dispatch = createServiceDispatch({ codec: msgpackCodec, services: [implement(Front, handlers)], filters: filters(i) });
    addresses.push(await listen(new RpcServer({ dispatch })));
  }
  return { addresses, runs: () => runs };
}

function frontClient(addresses: string[], opts: Partial<Omit<FailoverPoolOptions, 'transport' | 'servers'>> = {}) {
  const pool = new FailoverPool({ transport, servers: addresses, retryBudget: { ratio: 10 }, ...opts });
  cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
  return createClient(Front, pool, { codec: msgpackCodec });
}

describe('a method that is not idempotent runs once across two hops', () => {
  const downstreams: [string, () => Promise<string>, ErrorCode][] = [
    ['down', async () => `127.0.0.1:${await freePort()}`, ErrorCode.Unreachable],
    ['overloaded', () => refusingServer(ErrorCode.Overloaded), ErrorCode.Overloaded],
    ['closing', () => refusingServer(ErrorCode.Closed), ErrorCode.Closed],
  ];

  it.each(downstreams)('when the handler finds its downstream %s', async (_name, downstream, code) => {
    const f = await fronts(await downstream());
    const err = await frontClient(f.addresses).op().catch((e: unknown) => e);
    expect(f.runs()).toBe(1);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code, retry: 'idempotent' });
  });

  it("runs once after the method's own error, whatever shouldFailover says", async () => {
    const f = await fronts(await refusingServer(ErrorCode.Overloaded));
    const front = frontClient(f.addresses, { shouldFailover: (err) => (err instanceof RemoteError ? 'next' : undefined) });
    await expect(front.declared()).rejects.toBeInstanceOf(Busy);
    expect(f.runs()).toBe(1);
  });

  it("runs the downstream call of a server filter once: a filter passing on an answer that may have run is no refusal", async () => {
    // A quota service whose `take` is not idempotent: it counts, then answers Overloaded (say,
    // passed on from its own store). The answer carries a detail: it may have run.
    let takes = 0;
    const quota = await listen(new RpcServer({ dispatch: { dispatch: (req) => (takes++, req.fail(ErrorCode.Overloaded, 'Quota.take: store overloaded')) } }));
    const takeQuota: Filter = {
      before: async () => {
        const s = await ClientStream.connect({ transport, address: quota });
        try {
          await s.call('Quota.take');
        } finally {
          s.destroy();
        }
      },
    };
    const f = await fronts(quota, () => [takeQuota]);
    const err = await frontClient(f.addresses).op().catch((e: unknown) => e);
    expect(f.runs()).toBe(0);
    expect(takes).toBe(1);
    expect(err).toMatchObject({ code: ErrorCode.Overloaded, retry: 'idempotent' });
  });

  it("moves on after a server filter's refusal: the handler never started", async () => {
    const refuseOnFirst = (i: number): Filter[] =>
      i === 0 ? [{ before: () => { throw new RpcError(ErrorCode.Overloaded, 'shedding'); } }] : [];
    const ok = await listen(new RpcServer({ dispatch: { dispatch: (req) => req.reply() } }));
    const f = await fronts(ok, refuseOnFirst);
    expect(await frontClient(f.addresses, { strategy: 'leader' }).op()).toBe('done');
    expect(f.runs()).toBe(1);
  });
});

describe("a method's own idempotence decides, not the options object a call is given", () => {
  it('a non-idempotent method never runs twice when its options carry a pool call\'s idempotent: true: refused', async () => {
    let runs = 0;
    // Servers that take the call and never answer: the client times out, the call may have run.
    const silent = () => listen(new RpcServer({ dispatch: { dispatch: () => void runs++ }, closeWaitMs: 0 }));
    const front = frontClient([await silent(), await silent()], { retries: 1 });
    // One options object for raw pool calls and stub calls alike (a CallOptions is a MethodCallOptions).
    const shared: CallOptions = { timeoutMs: 300, idempotent: true };
    const err = await front.op(undefined, shared).catch((e: unknown) => e);
    // Refused, never sent (unheeded-call-options.test.ts): the definition alone says it may not run twice.
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(runs).toBe(0);
  });
});
