import { msgpackCodec } from '@skein/codec-msgpack';
import { RpcError, invalidArgument } from '@skein/core';
import { cleanups, memoryLogger } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { clientStream, createClient, implement, method, serverStream, service } from '../src/index.js';
import { serve } from './harness.js';

// Client → A → B on real sockets. A's typed client checks B's replies with its output schema;
// that schema's refusal is about A's own call, as its input schema's is (downstream-verdict-gaps),
// so A's handler passing it on as it is must not send its words (which name A's internals) to
// A's caller: it goes as `Front.op: rpc_invalid_argument`, its words logged on A.

const SECRET = 'reply names shard db-7.internal';
const cleanup = cleanups();

/** A Standard Schema whose check throws (or, `async`, rejects with) an InvalidArgument of A's own. */
const refusing = (async: boolean) =>
  ({
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: () => {
        if (async) return Promise.reject(invalidArgument(SECRET));
        throw invalidArgument(SECRET);
      },
    },
  }) as never;

const DownServer = service('Down', { get: method<void, number>(), watch: serverStream<void, number>(), put: clientStream<number, number>() });
const downClient = (async: boolean) => {
  const output = refusing(async);
  return service('Down', { get: method({ output } as never), watch: serverStream({ output } as never), put: clientStream({ output } as never) }) as never as typeof DownServer;
};
const Front = service('Front', { op: method<string, string>() });

async function frontOverB(async: boolean) {
  const b = await serve({
    codec: msgpackCodec,
    logger: memoryLogger(),
    services: [
      implement(DownServer, {
        get: () => 1,
        async *watch() {
          yield 1;
        },
        async put(values) {
          for await (const _ of values);
          return 1;
        },
      }),
    ],
  });
  cleanup.push(() => b.close());
  const down = createClient(downClient(async), b.stream, { codec: msgpackCodec });
  const logger = memoryLogger();
  const a = await serve({
    codec: msgpackCodec,
    logger,
    services: [
      implement(Front, {
        op: async (how) => {
          if (how === 'unary') return String(await down.get());
          if (how === 'server stream') {
            for await (const v of await down.watch()) return String(v);
            return 'none';
          }
          return String(await down.put([1, 2]));
        },
      }),
    ],
  });
  cleanup.push(() => a.close());
  return { front: createClient(Front, a.stream, { codec: msgpackCodec }), logger };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: RpcError) => ({ code: e.codeName, message: e.message }),
  );

describe("a typed client's output schema refusal of a handler's call stays on the handler's server", () => {
  it.each([false, true])('unary, server stream item and client stream result (asynchronous schema: %s)', async (async) => {
    const { front, logger } = await frontOverB(async);
    const withheld = { code: 'InvalidArgument', message: 'Front.op: rpc_invalid_argument' };
    expect(await failure(front.op('unary'))).toEqual(withheld);
    expect(await failure(front.op('server stream'))).toEqual(withheld);
    expect(await failure(front.op('client stream'))).toEqual(withheld);
    // The words are kept on A, in its log.
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => (l.obj as { err: RpcError }).err.message)).toContain(SECRET);
  });
});
