import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, invalidArgument } from '@skein/core';
import { ManualClock, memoryLogger, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient, implement, method, service, type Filter, type ServiceDispatchOptions } from '../src/index.js';
import { serve } from './harness.js';

// Client → A (a service dispatch), whose handler calls B through a typed client and lets B's
// InvalidArgument propagate as it is. B's words are about A's call, not the client's request:
// they stay on A (logged at warn, rate-limited), and the client reads `Front.op: rpc_invalid_argument`.

const SECRET = 'user 42 not found in shard db-7.internal';
const Users = service('Users', {
  get: method<number, string>(),
  find: method({ input: z.object({ name: z.string().min(2) }) }),
});
const Front = service('Front', { op: method<number, string>() });

const cleanup = cleanups();

async function usersB() {
  const b = await serve({
    codec: msgpackCodec,
    logger: memoryLogger(),
    services: [implement(Users, { get: () => { throw invalidArgument(SECRET); }, find: () => undefined })],
  });
  cleanup.push(() => b.close());
  return createClient(Users, b.stream, { codec: msgpackCodec });
}

async function frontA(op: (n: number) => Promise<string>, opts: Partial<ServiceDispatchOptions> = {}) {
  const logger = memoryLogger();
  const a = await serve({ codec: msgpackCodec, logger, ...opts, services: [implement(Front, { op })] });
  cleanup.push(() => a.close());
  return { front: createClient(Front, a.stream, { codec: msgpackCodec }), logger };
}

const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('the call succeeded'); }, (e: unknown) => e as RpcError);
const warnings = (logger: ReturnType<typeof memoryLogger>) => logger.lines.filter((l) => l.level === 'warn');

describe("createServiceDispatch: a downstream's InvalidArgument passed on as it is keeps its words on the server", () => {
  it("B's words do not reach the client; A logs them at warn", async () => {
    const users = await usersB();
    const { front, logger } = await frontA((n) => users.get(n));
    const err = await failure(front.op(42));
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'Front.op: rpc_invalid_argument' });
    const lines = warnings(logger);
    expect(lines.map((l) => l.msg)).toEqual(['Front.op failed with InvalidArgument']);
    expect(String((lines[0]!.obj.err as Error).message)).toContain(SECRET);
  });

  it("the handler's own InvalidArgument still reaches the client, and its rethrow of B's words as its own too", async () => {
    const users = await usersB();
    const own = await frontA(async (n) => { throw invalidArgument(`id ${n} is not a user id`); });
    expect(await failure(own.front.op(7))).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'Front.op: id 7 is not a user id' });
    const passed = await frontA(async (n) => {
      try {
        return await users.get(n);
      } catch (err) {
        throw invalidArgument((err as RpcError).message);
      }
    });
    expect(await failure(passed.front.op(42))).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringContaining(SECRET) });
    expect(warnings(own.logger).concat(warnings(passed.logger))).toEqual([]);
  });

  it("the typed client's own input-schema refusal of A's call stays on A", async () => {
    const users = await usersB();
    const { front } = await frontA(async () => (await users.find({ name: 'x' }), 'found'));
    expect(await failure(front.op(1))).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'Front.op: rpc_invalid_argument' });
  });

  it("a before filter passing on a downstream's Unauthenticated (an auth service's words) withholds them; its own keeps them", async () => {
    const Auth = service('Auth', { check: method<void, void>() });
    const auth = await serve({ codec: msgpackCodec, logger: memoryLogger(), services: [implement(Auth, { check: () => { throw new RpcError(ErrorCode.Unauthenticated, 'key k-17 revoked in vault.internal'); } })] });
    cleanup.push(() => auth.close());
    const authClient = createClient(Auth, auth.stream, { codec: msgpackCodec });
    const passOn: Filter = { before: () => authClient.check() };
    const own: Filter = { before: () => Promise.reject(new RpcError(ErrorCode.Unauthenticated, 'token expired')) };
    const a = await frontA(async () => 'ran', { filters: [passOn] });
    expect(await failure(a.front.op(1))).toMatchObject({ code: ErrorCode.Unauthenticated, message: 'Front.op: rpc_unauthenticated' });
    const b = await frontA(async () => 'ran', { filters: [own] });
    expect(await failure(b.front.op(1))).toMatchObject({ code: ErrorCode.Unauthenticated, message: 'Front.op: token expired' });
  });

  it('many failing calls log one whole line, then one counting line per interval', async () => {
    const users = await usersB();
    const clock = new ManualClock();
    const { front, logger } = await frontA((n) => users.get(n), { withheldLog: { clock, intervalMs: 5000 } });
    const N = 30;
    const errs = await Promise.all(Array.from({ length: N }, (_, i) => failure(front.op(i))));
    expect(new Set(errs.map((e) => e.message))).toEqual(new Set(['Front.op: rpc_invalid_argument']));
    expect(warnings(logger).map((l) => l.msg)).toEqual(['Front.op failed with InvalidArgument']);
    clock.advance(5000);
    expect(warnings(logger).slice(1).map((l) => l.obj)).toEqual([{ action: 'Front.op', code: 'InvalidArgument', suppressed: N - 1 }]);
  });

  it("the server's close says the failures counted since the last line", async () => {
    const users = await usersB();
    const clock = new ManualClock();
    const logger = memoryLogger();
    const a = await serve({ codec: msgpackCodec, logger, withheldLog: { clock, intervalMs: 5000 }, services: [implement(Front, { op: (n) => users.get(n) })] });
    cleanup.push(() => a.close());
    const front = createClient(Front, a.stream, { codec: msgpackCodec });
    for (let i = 0; i < 5; i++) await failure(front.op(i));
    expect(warnings(logger).map((l) => l.msg)).toEqual(['Front.op failed with InvalidArgument']);
    await a.close();
    expect(warnings(logger).slice(1).map((l) => [l.msg, l.obj])).toEqual([['4 more failed Front.op calls with InvalidArgument: not logged one by one', { action: 'Front.op', code: 'InvalidArgument', suppressed: 4 }]]);
    expect(clock.running).toBe(0);
  });
});
