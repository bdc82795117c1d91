import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { ClientStream, FailoverPool, RpcServer } from '@skein/stream';
import { cleanups, deferred, portOf, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service, type CallContext } from '../src/index.js';
import { transport } from './harness.js';

// A call made with `{ ctx }` that its handler's timeout (or deadline) ends reads Timeout, as its
// caller's time is up; that says nothing of the server it was (or was to be) sent to, as a cancel
// says nothing: a FailoverPool's breaker must not open on a healthy server for it.

const cleanup = cleanups();
const codec = msgpackCodec;

const Front = service('Front', { fanOut: method<number, string[]>() });
const Back = service('Back', { ok: method<null, number>() });

describe('calls made with { ctx } after its handler ran past handlerTimeoutMs, through a FailoverPool with a circuit breaker', () => {
  it("fail unsent, and leave their server's breaker closed: the next call runs there", async () => {
    let ran = 0;
    const back = new RpcServer({ closeWaitMs: 0, logger: silentLogger, dispatch: createServiceDispatch({ codec, logger: silentLogger, services: [implement(Back, { ok: () => ++ran })] }) });
    cleanup.push(() => back.close());
    const b = await back.listen(transport, '127.0.0.1:0');
    const pool = new FailoverPool({
      transport,
      servers: [`127.0.0.1:${portOf(b)}`],
      logger: silentLogger,
      circuitBreaker: { minCalls: 4, failureRatio: 0.5, openMs: 600_000 },
      pool: { logger: silentLogger },
    });
    cleanup.push(() => pool.close());
    const backs = createClient(Back, pool, { codec });
    expect(await backs.ok(null)).toBe(1);
    const fannedOut = deferred<string[]>();
    const front = new RpcServer({
      closeWaitMs: 0,
      logger: silentLogger,
      dispatch: createServiceDispatch({
        codec,
        logger: silentLogger,
        handlerTimeoutMs: 50,
        services: [
          implement(Front, {
            // Goes on after its signal aborted (Timeout: past handlerTimeoutMs), as a handler that ignores it does.
            fanOut: async (n: number, ctx: CallContext) => {
              await new Promise((aborted) => ctx.signal.addEventListener('abort', aborted));
              const calls = Array.from({ length: n }, () => backs.ok(null, { ctx }).then(String, (e: RpcError) => e.codeName));
              fannedOut.resolve(await Promise.all(calls));
              return [];
            },
          }),
        ],
      }),
    });
    cleanup.push(() => front.close());
    const s = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(await front.listen(transport, '127.0.0.1:0'))}`, logger: silentLogger });
    cleanup.push(() => s.destroy());
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
