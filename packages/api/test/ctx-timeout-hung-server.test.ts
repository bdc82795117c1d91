import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger, type RpcError } from '@skein/core';
import { ClientStream, FailoverPool, RpcServer } from '@skein/stream';
import { cleanups, portOf } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service, type CallContext } from '../src/index.js';
import { transport } from './harness.js';

// The other side of ctx-timeout-server-health.test.ts: a call made with `{ ctx }` takes what is
// left of its handler's time, so when its server hangs, the handler's end and the call's own timer
// come together, and the handler's usually first (a Timeout, `retry: 'never'`). The server had the
// call and did not answer: that is a slow server, and a FailoverPool's breaker must see it, or a
// server reached only by calls made with `{ ctx }` is never taken out however long it hangs.

const cleanup = cleanups();
const codec = msgpackCodec;

const Front = service('Front', { one: method<null, string>() });
const Back = service('Back', { hang: method<null, number>() });

describe('a server that never answers, reached only by calls made with { ctx } through a FailoverPool', () => {
  it('opens its breaker: the calls it had and left unanswered count against it', async () => {
    let reached = 0;
    const back = new RpcServer({
      closeWaitMs: 0,
      logger: silentLogger,
      dispatch: createServiceDispatch({ codec, logger: silentLogger, services: [implement(Back, {
            hang: () => {
              reached++;
              return new Promise<number>(() => {});
            },
          })] }),
    });
    cleanup.push(() => back.close());
    const pool = new FailoverPool({
      transport,
      servers: [`127.0.0.1:${portOf(await back.listen(transport, '127.0.0.1:0'))}`],
      logger: silentLogger,
      circuitBreaker: { minCalls: 4, failureRatio: 0.5, openMs: 600_000 },
      pool: { logger: silentLogger },
    });
    cleanup.push(() => pool.close());
    const backs = createClient(Back, pool, { codec });
    const ends: RpcError[] = [];
    const front = new RpcServer({
      closeWaitMs: 0,
      logger: silentLogger,
      dispatch: createServiceDispatch({
        codec,
        logger: silentLogger,
        handlerTimeoutMs: 100,
        services: [
          implement(Front, {
            one: async (_: null, ctx: CallContext) => {
              await backs.hang(null, { ctx }).catch((e: RpcError) => void ends.push(e));
              return 'done';
            },
          }),
        ],
      }),
    });
    cleanup.push(() => front.close());
    const s = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(await front.listen(transport, '127.0.0.1:0'))}`, logger: silentLogger });
    cleanup.push(() => s.destroy());
    const fronts = createClient(Front, s, { codec });
    // One at a time, until the breaker takes the server out (calls then fail at once, unsent).
    for (let i = 0; i < 12 && pool.stats()[0]!.circuit === 'closed'; i++) await fronts.one(null).catch(() => undefined);

    expect(pool.stats()[0]!.circuit).toBe('open');
    // Each reached the server and timed out there: the breaker opened on what it saw, at minCalls.
    expect(reached).toBe(4);
    expect(ends.slice(0, 4).map((e) => e.code)).toEqual([ErrorCode.Timeout, ErrorCode.Timeout, ErrorCode.Timeout, ErrorCode.Timeout]);
  });
});
