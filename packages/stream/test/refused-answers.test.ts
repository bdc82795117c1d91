import { ErrorCode, type RpcError } from '@skein/core';
import { memoryLogger, portOf, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type ActionHandler, type Caller, type ServerRequest } from '../src/index.js';
import { transport, u32 } from './harness.js';

// A raw handler's answer that is no answer (typed away, but JavaScript passes anything): a
// string where bytes belong went out as that many zeros; a code that is no ErrorCode wrapped
// into another, or threw in the connection and left the call unanswered, its slot held. Each now
// fails its call Internal (the handler ran), bare as the connection's other Internal answers,
// logged, and the request says so to whoever records the call; the connection goes on.

const cleanup = cleanups();

/** Bounds a call that the old code left unanswered: the assertion is on the code, never the time. */
const BOUND = { timeoutMs: 2000 };
const text = 'abc' as unknown as Uint8Array;

/** Each bad answer, the action that gives it, and what the log says of it. */
const cases: [action: number, answer: (req: ServerRequest) => ErrorCode | undefined | void, why: string][] = [
  [1, (req) => req.reply(text), "the reply's msg is a string, not bytes (a Uint8Array)"],
  [2, (req) => req.reply(u32(1), text), "the reply's blob is a string, not bytes (a Uint8Array)"],
  [3, (req) => req.failCustom(text), 'the custom error is a string, not bytes (a Uint8Array)'],
  [4, (req) => req.fail((2 ** 32 + 105) as ErrorCode), 'the handler failed with 4294967401, which is no error code'],
  [5, (req) => req.fail(-1 as ErrorCode), 'the handler failed with -1, which is no error code'],
  [6, (req) => req.fail(7.5 as ErrorCode), 'the handler failed with 7.5, which is no error code'],
];

/** A router's table: `action` answers as the case says, recording what its answer returned; 9 echoes. */
function table(action: number, answer: (req: ServerRequest) => ErrorCode | undefined | void, returned: (ErrorCode | undefined | void)[]): Record<number, ActionHandler> {
  return { [action]: (req) => void returned.push(answer(req)), 9: (req) => req.msg };
}

type Outcome = { ok: number[] } | { code: ErrorCode; message: string };

const outcome = (p: Promise<{ msg: Uint8Array }>): Promise<Outcome> =>
  p.then(
    (r) => ({ ok: [...r.msg] }),
    (e: RpcError) => ({ code: e.code, message: e.message }),
  );

/** Internal, bare: what a client reads of a refused answer. */
const refused = { code: ErrorCode.Internal, message: 'rpc_internal_err' };

async function listen(server: RpcServer): Promise<string> {
  const a = await server.listen(transport, '127.0.0.1:0');
  return `127.0.0.1:${portOf(a)}`;
}

describe('a handler that answers with what is no answer', () => {
  it.each(cases)('on a server (action %i): the call fails Internal, bare and logged, its slot freed; the next call on the connection is served', async (action, answer, why) => {
    const logger = memoryLogger();
    const returned: (ErrorCode | undefined | void)[] = [];
    // One call in flight per connection: a slot left held would hold the next call for good.
    const server = new RpcServer({ dispatch: createRouter(table(action, answer, returned)), logger, maxInFlightPerConn: 1 });
    const stream = await ClientStream.connect({ transport, address: await listen(server) });
    cleanup.push(() => server.close(), () => stream.destroy());
    expect(await outcome(stream.call(action, u32(action), BOUND))).toEqual(refused);
    expect(await outcome(stream.call(9, u32(action), BOUND))).toEqual({ ok: [...u32(action)] });
    expect(server.stats().inFlight).toBe(0);
    // reply() and failCustom() say what went instead; fail() returns nothing (a handler's idiom).
    expect(returned).toEqual([action <= 3 ? ErrorCode.Internal : undefined]);
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([`action ${action}: ${why}; the call failed Internal`]);
    expect(stream.state).toBe('open');
  });

  it.each(cases)('on a client serving its server (action %i): the reverse call fails Internal, logged, its place in the window freed', async (action, answer, why) => {
    const logger = memoryLogger();
    const returned: (ErrorCode | undefined | void)[] = [];
    const server = new RpcServer({ dispatch: createRouter({}) });
    // A window of one: a place left held would refuse the next reverse call Overloaded.
    const stream = await ClientStream.connect({ transport, address: await listen(server), logger, serve: createRouter(table(action, answer, returned)), serveWindow: 1 });
    cleanup.push(() => server.close(), () => stream.destroy());
    await stream.ping(); // the hello agreed calls both ways
    const caller = server.openConnections()[0]!.caller!;
    const reverse = (c: Caller, a: number) =>
      new Promise<Outcome>((resolve) => c.send(a, u32(action), BOUND, (err, reply) => resolve(err ? { code: (err as RpcError).code, message: err.message } : { ok: [...reply!.msg] })));
    expect(await reverse(caller, action)).toEqual(refused);
    expect(await reverse(caller, 9)).toEqual({ ok: [...u32(action)] });
    // reply() and failCustom() say what went instead; fail() returns nothing (a handler's idiom).
    expect(returned).toEqual([action <= 3 ? ErrorCode.Internal : undefined]);
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([`reverse call, action ${action}: ${why}; the call failed Internal`]);
    expect(stream.state).toBe('open');
  });
});
