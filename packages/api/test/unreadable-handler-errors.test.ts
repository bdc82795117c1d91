import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, memoryLogger } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, implement, method, serverStream, service, type Filter } from '../src/index.js';
import { serve } from './harness.js';

// createServiceDispatch answers every failure, whatever a handler fails with, as createRouter
// does: an error that throws when read, or an RpcError changed after it was made, must never
// leave the call unanswered nor, after an await, reject a promise nobody handles (which ends a
// Node process; vitest fails the run on one). Each call is bounded by a generous timeout only
// so that an unanswered one fails with Timeout rather than hanging the suite: the code decides.

const S = service('S', { op: method<number, void>(), feed: serverStream<number, number>() });
const cleanup = cleanups();
const bound = { timeoutMs: 10_000 };

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

/** What the handler fails with, by case number. */
function failure(n: number): unknown {
  switch (n) {
    case 0: return revokedProxy(); // `instanceof` throws
    case 1: return Object.create(null); // no string form (read with exposeInternalErrors)
    case 2: return Object.assign(new RpcError(ErrorCode.InvalidArgument, 'x'), { message: Symbol('words') }); // a message that is no string
    case 3: return Object.assign(new RpcError(ErrorCode.Overloaded, 'x'), { code: 404 }); // a code that is no ErrorCode
    default: return new Error('unexpected case');
  }
}

async function serveFailing(exposeInternalErrors: boolean, filters: Filter[] = []) {
  const logger = memoryLogger();
  const s = await serve({
    codec: msgpackCodec,
    logger,
    exposeInternalErrors,
    filters,
    services: [
      implement(S, {
        op: async (n) => {
          await Promise.resolve();
          throw failure(n);
        },
        async *feed(n) {
          yield 1;
          throw failure(n);
        },
      }),
    ],
  });
  cleanup.push(() => s.close());
  return { client: createClient(S, s.stream, { codec: msgpackCodec }), logger };
}

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof RpcError ? { code: e.codeName, retry: e.retry } : String(e)),
  );

async function drained(p: Promise<AsyncIterable<number>>): Promise<unknown> {
  return outcome((async () => { for await (const _ of await p); })());
}

describe("createServiceDispatch: a handler's failure that cannot be read as it is", () => {
  it.each([false, true])('is answered, never left hanging (exposeInternalErrors: %s)', async (expose) => {
    const { client } = await serveFailing(expose);
    const expected = [
      { code: 'Internal', retry: 'never' },
      { code: 'Internal', retry: 'never' },
      { code: 'InvalidArgument', retry: 'never' },
      { code: 'Internal', retry: 'never' },
    ];
    const unary = [];
    const streams = [];
    for (const n of [0, 1, 2, 3]) {
      unary.push(await outcome(client.op(n, bound)));
      streams.push(await drained(client.feed(n, bound)));
    }
    expect(unary).toEqual(expected);
    expect(streams).toEqual(expected);
  });

  it('logs why: an unreadable error as such, an RpcError with no ErrorCode as an undeclared error', async () => {
    const { client, logger } = await serveFailing(true);
    await outcome(client.op(0, bound));
    await outcome(client.op(3, bound));
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([
      'S.op: handler failed with an error that cannot be read',
      'S.op: handler threw an undeclared error',
    ]);
  });

  it("a before filter's passed-on Overloaded whose message is no string still says it may have run", async () => {
    const mayHaveRun = Object.assign(new RpcError(ErrorCode.Overloaded, 'x', { retry: 'idempotent' }), { message: Symbol('quota service words') });
    const { client } = await serveFailing(true, [{ before: () => { throw mayHaveRun; } }]);
    expect(await outcome(client.op(9, bound))).toEqual({ code: 'Overloaded', retry: 'idempotent' });
  });
});
