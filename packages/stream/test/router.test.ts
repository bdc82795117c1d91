import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { portOf } from '@skein/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientStream, RpcServer, createRouter, type ActionHandler, type RouterOptions } from '../src/index.js';
import { memoryLogger, transport } from './harness.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const f of cleanup.splice(0).reverse()) await f();
});

const table: Record<number, ActionHandler> = {
  7: () => {
    throw new Error('disk on fire');
  },
  8: () => {
    throw new RpcError(ErrorCode.Overloaded); // passed on from a downstream, message and all
  },
  // Results that are no answer (a JavaScript handler's mistake): a string, an ArrayBuffer.
  10: () => 'text' as unknown as Uint8Array,
  11: async () => new ArrayBuffer(4) as unknown as Uint8Array,
  // A blob alone: the msg is empty.
  12: () => ({ blob: new Uint8Array([1, 2]) }) as unknown as Uint8Array,
  // Results whose reading throws: a getter, a Proxy's `has` trap; returned at once and after an await.
  13: () => throwingGetter(),
  14: async () => throwingGetter(),
  15: async () => new Proxy({}, { has: () => { throw new Error('has trap threw'); } }) as unknown as Uint8Array,
  // Errors whose reading throws, after an await: a revoked Proxy (`instanceof` throws), an object with no `toString`.
  16: async () => Promise.reject(revokedProxy()),
  17: async () => Promise.reject(Object.create(null)),
  // A plain failure after an await.
  18: async () => Promise.reject(new Error('late failure')),
};

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

function throwingGetter(): Uint8Array {
  return {
    get msg(): Uint8Array {
      throw new Error('getter threw');
    },
  } as unknown as Uint8Array;
}

async function serve(options?: Parameters<typeof createRouter>[1]): Promise<ClientStream> {
  const server = new RpcServer({ dispatch: createRouter(table, options) });
  const a = await server.listen(transport, '127.0.0.1:0');
  const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}` });
  cleanup.push(() => server.close(), () => stream.destroy());
  return stream;
}

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as RpcError);

/** What the router wrote to the console (its default logger) while `body` ran. */
async function consoleOutput(body: () => Promise<unknown>): Promise<string[]> {
  const lines: string[] = [];
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  await body();
  vi.restoreAllMocks();
  return lines;
}

describe('createRouter tables', () => {
  it("refuses the protocol's reserved numeric actions (ping, hello and up) with InvalidArgument", () => {
    for (const key of [0, 0x7fff_ff00, 0x7fff_ffff]) {
      expect(() => createRouter({ [key]: () => undefined })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    }
    expect(() => createRouter({ 1: () => undefined, [0x7fff_feff]: () => undefined })).not.toThrow();
  });

  it('refuses a handler that is no function with InvalidArgument naming its action, when made (not Internal call after call)', () => {
    const table = { ok: () => undefined, 7: 'x' } as unknown as Record<string, () => undefined>;
    expect(() => createRouter(table)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, message: 'createRouter: the handler of action 7 must be a function, got a string' }));
    expect(() => createRouter({ nothing: undefined } as unknown as Record<string, () => undefined>)).toThrow(/action nothing must be a function, got undefined/);
  });
});

describe('createRouter errors say what happened', () => {
  it('logs a crashing handler to the console by default, naming the action', async () => {
    const lines = await consoleOutput(async () => {
      const stream = await serve();
      expect(await failure(stream.call(7))).toMatchObject({ code: ErrorCode.Internal });
    });
    expect(lines).toEqual([expect.stringMatching(/error action 7: handler failed .*disk on fire/)]);
  });

  it('can be silenced, and takes a logger as before', async () => {
    const quiet = await consoleOutput(async () => {
      const stream = await serve({ logger: silentLogger });
      await failure(stream.call(7));
    });
    expect(quiet).toEqual([]);
    const logger = memoryLogger();
    const stream = await serve(logger);
    await failure(stream.call(7));
    expect(logger.lines).toMatchObject([{ level: 'error', msg: 'action 7: handler failed', obj: { action: 7 } }]);
  });

  it('sends razor codes bare by default (a razor peer reads a detail as a custom error)', async () => {
    const stream = await serve({ logger: silentLogger });
    expect(await failure(stream.call(9))).toMatchObject({ code: ErrorCode.Method, message: 'rpc_method_notfound' });
    expect(await failure(stream.call(7))).toMatchObject({ code: ErrorCode.Internal, message: 'rpc_internal_err' });
  });

  it('names the action in not-found and Internal errors for Skein peers (exposeInternalErrors)', async () => {
    const opts: RouterOptions = { logger: silentLogger, exposeInternalErrors: true };
    const stream = await serve(opts);
    expect(await failure(stream.call(9))).toMatchObject({ code: ErrorCode.Method, message: 'action 9: no such action' });
    expect(await failure(stream.call('Nope.x'))).toMatchObject({ code: ErrorCode.Method, message: 'Nope.x: no such action' });
    expect(await failure(stream.call(7))).toMatchObject({ code: ErrorCode.Internal, message: 'action 7: disk on fire' });
  });

  it('answers a result that holds no bytes (a string, an ArrayBuffer) Internal, logged: never an empty answer nobody sent', async () => {
    const logger = memoryLogger();
    const stream = await serve({ logger, exposeInternalErrors: true });
    expect(await failure(stream.call(10))).toMatchObject({ code: ErrorCode.Internal, message: 'action 10: the handler returned a string, not bytes (a Uint8Array), { msg, blob } or nothing' });
    expect(await failure(stream.call(11))).toMatchObject({ code: ErrorCode.Internal, message: 'action 11: the handler returned an ArrayBuffer, not bytes (a Uint8Array), { msg, blob } or nothing' });
    expect(logger.lines.map((l) => l.msg)).toEqual(['action 10: handler failed', 'action 11: handler failed']);
    const blobOnly = await stream.call(12);
    expect([blobOnly.msg.length, [...blobOnly.blob]]).toEqual([0, [1, 2]]);
  });

  it('answers a result whose reading throws Internal, logged, at once and after an await: no call left unanswered, no unhandled rejection', async () => {
    const logger = memoryLogger();
    const stream = await serve({ logger, exposeInternalErrors: true });
    // Bounded: the old router left these unanswered (the assertion is on the code, not the time).
    const bound = { timeoutMs: 5000 };
    expect(await failure(stream.call(13, undefined, bound))).toMatchObject({ code: ErrorCode.Internal, message: 'action 13: getter threw' });
    expect(await failure(stream.call(14, undefined, bound))).toMatchObject({ code: ErrorCode.Internal, message: 'action 14: getter threw' });
    expect(await failure(stream.call(15, undefined, bound))).toMatchObject({ code: ErrorCode.Internal, message: 'action 15: has trap threw' });
    expect(logger.lines.map((l) => l.msg)).toEqual(['action 13: handler failed', 'action 14: handler failed', 'action 15: handler failed']);
    expect(stream.state).toBe('open');
  });

  it('answers a rejection whose error cannot be read Internal, logged: no call left unanswered, no unhandled rejection', async () => {
    const logger = memoryLogger();
    const stream = await serve({ logger, exposeInternalErrors: true });
    const bound = { timeoutMs: 5000 };
    expect(await failure(stream.call(16, undefined, bound))).toMatchObject({ code: ErrorCode.Internal });
    expect(await failure(stream.call(17, undefined, bound))).toMatchObject({ code: ErrorCode.Internal });
    expect(logger.lines.map((l) => l.msg)).toEqual(['action 16: handler failed with an error that cannot be read', 'action 17: handler failed with an error that cannot be read']);
    expect(stream.state).toBe('open');
  });

  it('answers a failure after an await Internal even when its logger throws writing the line (no call left unanswered, no unhandled rejection)', async () => {
    const throwing = { debug() {}, info() {}, warn() {}, error() { throw new Error('cannot write this line'); } };
    const stream = await serve({ logger: throwing });
    // Bounded: the call went unanswered, the logger's throw rejecting a promise nobody handled.
    expect(await failure(stream.call(18, undefined, { timeoutMs: 5000 }))).toMatchObject({ code: ErrorCode.Internal });
    expect(await failure(stream.call(11, undefined, { timeoutMs: 5000 }))).toMatchObject({ code: ErrorCode.Internal });
    expect(stream.state).toBe('open');
  });

  it("never lets a handler's refusal code read as unrun: it names the action and says it may have run", async () => {
    const stream = await serve({ logger: silentLogger });
    const err = await failure(stream.call(8));
    expect(err).toMatchObject({ code: ErrorCode.Overloaded, retry: 'idempotent', message: 'action 8: rpc_overloaded' });
  });
});
