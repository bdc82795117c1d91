import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, invalidArgument } from '@skein/core';
import type { Caller } from '@skein/stream';
import { memoryLogger, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { clientStream, createClient, implement, method, serverStream, service, withBlob } from '../src/index.js';
import { serve } from './harness.js';

// Client → A (a service dispatch) → B, on real sockets. What A's typed client makes of A's own
// call (its input schema refusals, however it runs them) is about A's call, not the client's
// request; and an error A's handler made itself stays its own, even after it went through a
// client stream's cancel.

const Down = service('Down', {
  find: method({ input: z.object({ name: z.string().refine(async (s) => s.length >= 2, 'too short: shard db-7 wants 2+') }) }),
  watch: serverStream({ input: z.object({ name: z.string().min(2, 'too short: shard db-7 wants 2+') }), output: z.number() }),
  put: clientStream<number, number>(),
  store: method<string, void>().blob(),
});
const Front = service('Front', { op: method<number, string>() });

const cleanup = cleanups();

async function downB() {
  const b = await serve({
    codec: msgpackCodec,
    logger: memoryLogger(),
    services: [
      implement(Down, {
        find: () => undefined,
        store: () => withBlob(undefined),
        async *watch() {
          yield 1;
        },
        async put(values) {
          let n = 0;
          for await (const v of values) n += v;
          return n;
        },
      }),
    ],
  });
  cleanup.push(() => b.close());
  return createClient(Down, b.stream, { codec: msgpackCodec });
}

async function frontA(op: (n: number) => Promise<string>) {
  const logger = memoryLogger();
  const a = await serve({ codec: msgpackCodec, logger, services: [implement(Front, { op })] });
  cleanup.push(() => a.close());
  return { front: createClient(Front, a.stream, { codec: msgpackCodec }), logger };
}

const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('the call succeeded'); }, (e: unknown) => e as RpcError);

describe("a typed client's own refusals of a handler's call stay on the handler's server", () => {
  it('an asynchronous input schema refusal (unary)', async () => {
    const down = await downB();
    const { front, logger } = await frontA(async () => (await down.find({ name: 'x' }), 'found'));
    expect(await failure(front.op(1))).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'Front.op: rpc_invalid_argument' });
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(['Front.op failed with InvalidArgument']);
  });

  it("a server stream's input schema refusal", async () => {
    const down = await downB();
    const { front } = await frontA(async () => {
      for await (const v of await down.watch({ name: 'x' })) return String(v);
      return 'none';
    });
    expect(await failure(front.op(1))).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'Front.op: rpc_invalid_argument' });
  });
  it("a .blob() method's refusal of a bare value", async () => {
    const down = await downB();
    const { front } = await frontA(async () => (await down.store('no withBlob' as never), 'stored'));
    expect(await failure(front.op(1))).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'Front.op: rpc_invalid_argument' });
  });

  it("a Caller's synchronous throw (as a carrier's call() marks it)", async () => {
    const sharded: Caller = {
      send() {
        throw invalidArgument('no shard for key 42 in db-7.internal');
      },
    };
    const down = createClient(Down, sharded, { codec: msgpackCodec });
    const { front } = await frontA(async () => (await down.store(undefined as never), 'stored'));
    expect(await failure(front.op(1))).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'Front.op: rpc_invalid_argument' });
  });
});

describe('a frozen error (an application constant) is handed on as it is, never a TypeError', () => {
  it("an input schema's own frozen RpcError rejects the call with that error", async () => {
    const FROZEN = Object.freeze(invalidArgument('tenant header missing'));
    const Strict = service('Down', {
      find: method({ input: { '~standard': { version: 1, vendor: 'test', validate: () => { throw FROZEN; } } } as never }),
    });
    const b = await serve({ codec: msgpackCodec, logger: memoryLogger(), services: [implement(Strict, { find: () => undefined })] });
    cleanup.push(() => b.close());
    const down = createClient(Strict, b.stream, { codec: msgpackCodec });
    expect(await failure(down.find({} as never))).toBe(FROZEN);
  });
});

describe("a handler's own error stays its own after a client stream carried it", () => {
  it('an error its source threw, cancelling a downstream client stream, is not marked: later throws of it still speak', async () => {
    const down = await downB();
    // The handler's own verdict on its caller's request, made once (a module's constant).
    const TOO_BIG = invalidArgument('at most 10 per item');
    const { front } = await frontA(async (n) => {
      if (n > 10) throw TOO_BIG;
      async function* items() {
        yield n;
        throw TOO_BIG;
      }
      try {
        return String(await down.put(items()));
      } catch (e) {
        // The stub hands the source's error back as it is (no copy naming Down.put).
        return e === TOO_BIG ? 'its own error back' : String(e);
      }
    });
    expect(await front.op(1)).toBe('its own error back');
    expect(await failure(front.op(11))).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'Front.op: at most 10 per item' });
  });
});
