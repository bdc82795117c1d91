import { ErrorCode, RpcError, invalidArgument } from '@skein/core';
import { ManualClock, memoryLogger, portOf, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, ConnPool, FailoverPool, RpcServer, createRouter, type ActionHandler, type CallOptions, type Caller, type Notify, type Reply } from '../src/index.js';
import { transport } from './harness.js';

// Client → A (a createRouter), whose handler calls B through a Skein client and lets B's
// InvalidArgument propagate as it is. B's words ("not found in shard db-7.internal") are about
// A's call, not the client's request: they stay on A (logged at warn), and the client reads
// `A.op: rpc_invalid_argument`. A handler's own InvalidArgument keeps its words.

const cleanup = cleanups();

const SECRET = 'user 42 not found in shard db-7.internal';

async function listen(dispatch: ReturnType<typeof createRouter>): Promise<string> {
  const server = new RpcServer({ dispatch });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return `127.0.0.1:${portOf(a)}`;
}

/** B: its handler's own verdict on A's request, naming an internal host. */
async function serveB(): Promise<string> {
  return listen(createRouter({ 'B.get': () => { throw invalidArgument(SECRET); } }, { logger: memoryLogger() }));
}

type Via = (address: string) => Promise<(action: string) => Promise<Reply>>;

const carriers: [string, Via][] = [
  ['ClientStream.call', async (address) => {
    const s = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
    cleanup.push(() => s.destroy());
    return (action) => s.call(action);
  }],
  ['ConnPool.call', async (address) => {
    const p = new ConnPool({ transport, address });
    cleanup.push(() => p.destroy());
    return (action) => p.call(action);
  }],
  ['FailoverPool.call', async (address) => {
    const p = new FailoverPool({ transport, servers: [address] });
    cleanup.push(() => p.close());
    return (action) => p.call(action);
  }],
  // The low-level path, no promise: the error as the stream's Call hands it to `notify`.
  ['ClientStream.send', async (address) => {
    const s = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
    cleanup.push(() => s.destroy());
    return (action) => sent(s, action);
  }],
];

function sent(c: Caller, action: string, opts: CallOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const notify: Notify = (err, reply) => (err ? reject(err) : resolve(reply!));
    c.send(action, new Uint8Array(0), opts, notify);
  });
}

async function serveA(table: Record<string, ActionHandler>, logger = memoryLogger(), clock?: ManualClock) {
  const address = await listen(createRouter(table, { logger, withheldLog: clock && { clock, intervalMs: 1000 } }));
  const stream = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
  cleanup.push(() => stream.destroy());
  return { stream, logger };
}

const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('the call succeeded'); }, (e: unknown) => e as RpcError);
const warnings = (logger: ReturnType<typeof memoryLogger>) => logger.lines.filter((l) => l.level === 'warn');

describe("createRouter: a downstream's InvalidArgument passed on as it is keeps its words on the server", () => {
  it.each(carriers)("B's words do not reach the client through %s; A logs them at warn", async (_, via) => {
    const callB = await via(await serveB());
    const { stream, logger } = await serveA({ 'A.op': async () => (await callB('B.get')).msg });
    const err = await failure(stream.call('A.op'));
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'A.op: rpc_invalid_argument' });
    const lines = warnings(logger);
    expect(lines.map((l) => l.msg)).toEqual(['A.op failed with InvalidArgument']);
    expect(String((lines[0]!.obj.err as Error).message)).toContain(SECRET);
  });

  it("B's words do not reach the client when they end a stream A opened (StreamCall)", async () => {
    const b = await listen(createRouter({ 'B.feed': () => { throw invalidArgument(SECRET); } }, { logger: memoryLogger() }));
    const s = await ClientStream.connect({ transport, address: b, keepaliveMs: 0 });
    cleanup.push(() => s.destroy());
    const { stream } = await serveA({
      'A.op': async () => {
        for await (const item of s.openStream('B.feed')) void item;
      },
    });
    expect(await failure(stream.call('A.op'))).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'A.op: rpc_invalid_argument' });
  });

  it("the handler's own InvalidArgument still reaches the client, and is not logged", async () => {
    const { stream, logger } = await serveA({ 'A.op': () => { throw invalidArgument('id must be a number'); } });
    expect(await failure(stream.call('A.op'))).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'id must be a number' });
    expect(warnings(logger)).toEqual([]);
  });

  it("a handler passes B's verdict on on purpose by making it its own: invalidArgument(err.message), or a copy with downstream: false", async () => {
    const callB = await carriers[0]![1](await serveB());
    const { stream } = await serveA({
      own: async () => {
        try {
          return (await callB('B.get')).msg;
        } catch (err) {
          throw invalidArgument((err as RpcError).message);
        }
      },
      copy: async () => {
        try {
          return (await callB('B.get')).msg;
        } catch (err) {
          const e = err as RpcError;
          throw new RpcError(e.code, e.message, { cause: e, downstream: false });
        }
      },
      // A copy naming it as its cause, with no say of its own, stays the downstream's.
      wrapped: async () => {
        try {
          return (await callB('B.get')).msg;
        } catch (err) {
          const e = err as RpcError;
          throw new RpcError(e.code, `lookup: ${e.message}`, { cause: e });
        }
      },
    });
    expect(await failure(stream.call('own'))).toMatchObject({ code: ErrorCode.InvalidArgument, message: SECRET });
    expect(await failure(stream.call('copy'))).toMatchObject({ code: ErrorCode.InvalidArgument, message: SECRET });
    expect(await failure(stream.call('wrapped'))).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'wrapped: rpc_invalid_argument' });
  });

  it("a FailoverPool's own InvalidArgument naming an address (sendTo a server not in the pool) stays on A", async () => {
    const pool = new FailoverPool({ transport, servers: [await serveB()] });
    cleanup.push(() => pool.close());
    const { stream, logger } = await serveA({
      'A.op': async () => (await new Promise<Reply>((resolve, reject) => pool.sendTo('10.9.8.7:7000', 'B.get', new Uint8Array(0), {}, (err, r) => (err ? reject(err) : resolve(r!))))).msg,
    });
    const err = await failure(stream.call('A.op'));
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'A.op: rpc_invalid_argument' });
    expect(String((warnings(logger)[0]!.obj.err as Error).message)).toContain('10.9.8.7:7000');
  });

  it("a carrier's own InvalidArgument about the call's options (a negative timeoutMs), through call() or send(), stays on A", async () => {
    const b = await serveB();
    const s = await ClientStream.connect({ transport, address: b, keepaliveMs: 0 });
    cleanup.push(() => s.destroy());
    const pool = new ConnPool({ transport, address: b });
    cleanup.push(() => pool.destroy());
    const { stream, logger } = await serveA({
      'A.op': async () => (await s.call('B.get', undefined, { timeoutMs: -5 })).msg,
      // The same through `send` (no promise), on a stream and on a pool not yet connected.
      'A.send': async () => (await sent(s, 'B.get', { timeoutMs: -5 })).msg,
      'A.pool': async () => (await sent(pool, 'B.get', { timeoutMs: -5 })).msg,
    });
    expect(await failure(stream.call('A.op'))).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'A.op: rpc_invalid_argument' });
    expect(await failure(stream.call('A.send'))).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'A.send: rpc_invalid_argument' });
    expect(await failure(stream.call('A.pool'))).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'A.pool: rpc_invalid_argument' });
    expect(String((warnings(logger)[0]!.obj.err as Error).message)).toContain('-5');
  });

  it("a downstream's PermissionDenied passed on as it is stays on A too", async () => {
    const b = await listen(createRouter({ 'B.get': (req) => req.fail(ErrorCode.PermissionDenied, 'tenant acme has no access to bucket prod-keys') }, { logger: memoryLogger() }));
    const callB = await carriers[0]![1](b);
    const { stream } = await serveA({ 'A.op': async () => (await callB('B.get')).msg });
    expect(await failure(stream.call('A.op'))).toMatchObject({ code: ErrorCode.PermissionDenied, message: 'A.op: rpc_permission_denied' });
  });
});

describe('createRouter: the warn line per withheld failure is rate-limited per action and code', () => {
  it('many failing calls: the first logged whole, then one line per interval with the count; a quiet interval starts over', async () => {
    const callB = await carriers[0]![1](await serveB());
    const clock = new ManualClock();
    let others = 0;
    const { stream, logger } = await serveA(
      {
        'A.op': async () => (await callB('B.get')).msg,
        // Two codes of one action: counted apart.
        'A.other': () => { throw new RpcError(others++ === 0 ? ErrorCode.Unreachable : ErrorCode.Timeout, 'no answer from 10.1.2.3:7000'); },
        // One code of two actions: counted apart.
        'A.third': async () => (await callB('B.get')).msg,
      },
      memoryLogger(),
      clock,
    );
    const N = 40;
    const errs = await Promise.all(Array.from({ length: N }, () => failure(stream.call('A.op'))));
    expect(errs.every((e) => e.message === 'A.op: rpc_invalid_argument')).toBe(true);
    await failure(stream.call('A.other'));
    await failure(stream.call('A.other'));
    await failure(stream.call('A.third'));
    await failure(stream.call('A.third'));
    expect(warnings(logger).map((l) => l.msg)).toEqual([
      'A.op failed with InvalidArgument',
      'A.other failed with Unreachable',
      'A.other failed with Timeout',
      'A.third failed with InvalidArgument',
    ]);

    clock.advance(1000);
    const summed = warnings(logger).slice(4);
    expect(summed.map((l) => l.obj)).toEqual([
      { action: 'A.op', code: 'InvalidArgument', suppressed: N - 1 },
      { action: 'A.third', code: 'InvalidArgument', suppressed: 1 },
    ]);
    expect(summed[0]!.msg).toBe(`${N - 1} more failed A.op calls with InvalidArgument: not logged one by one`);

    // Still failing: counted, one line at the next tick; then a quiet interval forgets it.
    await failure(stream.call('A.op'));
    expect(warnings(logger)).toHaveLength(6);
    clock.advance(1000);
    expect(warnings(logger).slice(6).map((l) => l.obj.suppressed)).toEqual([1]);
    clock.advance(1000);
    clock.advance(1000);
    expect(clock.running).toBe(0);
    await failure(stream.call('A.op'));
    expect(warnings(logger).slice(7).map((l) => l.msg)).toEqual(['A.op failed with InvalidArgument']);
  });

  it('past maxKeys action and code pairs, the rest are counted together: memory and lines stay bounded', async () => {
    const clock = new ManualClock();
    const logger = memoryLogger();
    const fail = () => { throw new RpcError(ErrorCode.Unreachable, 'cannot connect to 10.1.2.3:7000'); };
    const table: Record<string, ActionHandler> = {};
    for (let i = 0; i < 6; i++) table[`A.op${i}`] = fail;
    const address = await listen(createRouter(table, { logger, withheldLog: { clock, intervalMs: 1000, maxKeys: 2 } }));
    const stream = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    for (let round = 0; round < 3; round++) for (let i = 0; i < 6; i++) await failure(stream.call(`A.op${i}`));
    // Two pairs of their own, then one whole line for all the others.
    expect(warnings(logger).map((l) => l.msg)).toEqual(['A.op0 failed with Unreachable', 'A.op1 failed with Unreachable', 'A.op2 failed with Unreachable']);
    clock.advance(1000);
    expect(warnings(logger).slice(3).map((l) => l.obj.suppressed)).toEqual([2, 2, 18 - 2 * 3 - 1]);
  });
});

describe("createRouter: a server's close says the withheld failures counted since the last line", () => {
  it('close writes the pending counts, and the next failure (another server on the same dispatch) is said whole', async () => {
    const clock = new ManualClock();
    const logger = memoryLogger();
    const dispatch = createRouter({ 'A.op': () => { throw new RpcError(ErrorCode.Unreachable, 'cannot connect to 10.1.2.3:7000'); } }, { logger, withheldLog: { clock, intervalMs: 1000 } });
    const serveOn = async () => {
      const server = new RpcServer({ dispatch });
      const a = await server.listen(transport, '127.0.0.1:0');
      cleanup.push(() => server.close());
      const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}`, keepaliveMs: 0 });
      cleanup.push(() => stream.destroy());
      return { server, stream };
    };
    const one = await serveOn();
    for (let i = 0; i < 4; i++) await failure(one.stream.call('A.op'));
    expect(warnings(logger).map((l) => l.msg)).toEqual(['A.op failed with Unreachable']);
    one.stream.destroy();
    await one.server.close();
    // Before the interval ended: without the close's line, these three were never said.
    expect(warnings(logger).map((l) => l.msg)).toEqual(['A.op failed with Unreachable', '3 more failed A.op calls with Unreachable: not logged one by one']);
    expect(warnings(logger)[1]!.obj).toEqual({ action: 'A.op', code: 'Unreachable', suppressed: 3 });
    expect(clock.running).toBe(0);
    // Nothing pending: a second close says nothing more; the dispatch goes on with another server.
    await one.server.close();
    const two = await serveOn();
    await failure(two.stream.call('A.op'));
    expect(warnings(logger).slice(2).map((l) => l.msg)).toEqual(['A.op failed with Unreachable']);
    two.stream.destroy();
    await two.server.close();
    expect(warnings(logger)).toHaveLength(3);
  });
});

describe('createRouter: withheldLog options', () => {
  it.each([{ intervalMs: 0 }, { intervalMs: Number.NaN }, { maxKeys: 0 }, { maxKeys: 1.5 }])('refuses %o with InvalidArgument', (withheldLog) => {
    expect(() => createRouter({}, { withheldLog })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringContaining('withheldLog.') }));
  });
});
