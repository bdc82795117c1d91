import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { ClientStream, FailoverPool, RpcServer } from '@skein/stream';
import { cleanups, deferred, portOf, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service, type CallContext } from '../src/index.js';
import { transport } from './harness.js';

// A call made with `{ ctx }` that its handler's timeout (or deadline) ends reads Timeout, as its
// caller's time is up. Unsent, that says nothing of the server it was to be sent to, as a cancel
// says nothing: a FailoverPool's breaker must not open on a healthy server for it. But such a
// call takes what is left of its handler's time, so when its server hangs, the handler's end and
// the call's own timer come together, and the handler's usually first (a Timeout, `retry:
// 'never'`). The server had the call and did not answer: that is a slow server, and the breaker
// must see it, or a server reached only by calls made with `{ ctx }` is never taken out however
// long it hangs.

const cleanup = cleanups();
const codec = msgpackCodec;

const Front = service('Front', { fanOut: method<number, string[]>() });
const Back = service('Back', { ok: method<null, number>() });
const Relay = service('Relay', { one: method<null, string>() });
const Hung = service('Hung', { hang: method<null, number>() });

type Impl = Parameters<typeof createServiceDispatch>[0]['services'][number];

/** A server of `impl`, closed by `cleanup`, its handlers' time `handlerTimeoutMs` if given: its address. */
async function serverOf(impl: Impl, handlerTimeoutMs?: number): Promise<string> {
  const dispatch = createServiceDispatch({ codec, logger: silentLogger, services: [impl], ...(handlerTimeoutMs !== undefined && { handlerTimeoutMs }) });
  const server = new RpcServer({ closeWaitMs: 0, logger: silentLogger, dispatch });
  cleanup.push(() => server.close());
  return `127.0.0.1:${portOf(await server.listen(transport, '127.0.0.1:0'))}`;
}

/** A FailoverPool of the one server at `address`, whose breaker opens at half of 4 calls failed, and stays open. */
function breakerPool(address: string): FailoverPool {
  const pool = new FailoverPool({
    transport,
    servers: [address],
    logger: silentLogger,
    circuitBreaker: { minCalls: 4, failureRatio: 0.5, openMs: 600_000 },
    pool: { logger: silentLogger },
  });
  cleanup.push(() => pool.close());
  return pool;
}

/** A stream to the server at `address`, destroyed by `cleanup`. */
async function streamTo(address: string): Promise<ClientStream> {
  const s = await ClientStream.connect({ transport, address, logger: silentLogger });
  cleanup.push(() => s.destroy());
  return s;
}

describe('calls made with { ctx } after its handler ran past handlerTimeoutMs, through a FailoverPool with a circuit breaker', () => {
  it("fail unsent, and leave their server's breaker closed: the next call runs there", async () => {
    let ran = 0;
    const pool = breakerPool(await serverOf(implement(Back, { ok: () => ++ran })));
    const backs = createClient(Back, pool, { codec });
    expect(await backs.ok(null)).toBe(1);
    const fannedOut = deferred<string[]>();
    const front = await serverOf(
      implement(Front, {
        // Goes on after its signal aborted (Timeout: past handlerTimeoutMs), as a handler that ignores it does.
        fanOut: async (n: number, ctx: CallContext) => {
          await new Promise((aborted) => ctx.signal.addEventListener('abort', aborted));
          const calls = Array.from({ length: n }, () => backs.ok(null, { ctx }).then(String, (e: RpcError) => e.codeName));
          fannedOut.resolve(await Promise.all(calls));
          return [];
        },
      }),
      50,
    );
    const s = await streamTo(front);
    const outer = await createClient(Front, s, { codec })
      .fanOut(8)
      .catch((e: unknown) => e);
    expect((outer as RpcError).code).toBe(ErrorCode.Timeout);
    const ends = await within(fannedOut.promise, 5_000, 'the calls made with { ctx }');
    expect(ends.filter((e) => e !== 'Timeout' && e !== 'Cancelled')).toEqual([]);
    expect(ran).toBe(1); // none of them reached the server
    expect(pool.stats()[0]!.circuit).toBe('closed');
    expect(await backs.ok(null)).toBe(2);
  });
});

describe('a server that never answers, reached only by calls made with { ctx } through a FailoverPool', () => {
  it('opens its breaker: the calls it had and left unanswered count against it', async () => {
    let reached = 0;
    const hang = (): Promise<number> => {
      reached++;
      return new Promise<number>(() => {});
    };
    const pool = breakerPool(await serverOf(implement(Hung, { hang })));
    const hungs = createClient(Hung, pool, { codec });
    const ends: RpcError[] = [];
    const front = await serverOf(
      implement(Relay, {
        one: async (_: null, ctx: CallContext) => {
          await hungs.hang(null, { ctx }).catch((e: RpcError) => void ends.push(e));
          return 'done';
        },
      }),
      100,
    );
    const s = await streamTo(front);
    const fronts = createClient(Relay, s, { codec });
    // One at a time, until the breaker takes the server out (calls then fail at once, unsent).
    for (let i = 0; i < 12 && pool.stats()[0]!.circuit === 'closed'; i++) await fronts.one(null).catch(() => undefined);

    expect(pool.stats()[0]!.circuit).toBe('open');
    // Each reached the server and timed out there: the breaker opened on what it saw, at minCalls.
    expect(reached).toBe(4);
    expect(ends.slice(0, 4).map((e) => e.code)).toEqual([ErrorCode.Timeout, ErrorCode.Timeout, ErrorCode.Timeout, ErrorCode.Timeout]);
  });
});
