import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, codeErrors, silentLogger } from '@skein/core';
import { cleanups, deferred } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bidiStream, createClient, implement, serverStream, service, type Result } from '../src/index.js';
import { serve } from './harness.js';

// A stream of results is given at once, before the server says anything (the wire has no word for
// "opened"): a handler's declared error, even one thrown before its first item, is the stream's
// end, thrown by its iterator. So `.result()` of such a stream resolves ok, and is typed with no
// declared error (stream-result-types.test-d.ts); only a refusal of its opening makes it ok: false.

const cleanup = cleanups();

class NotFound extends Error {
  override readonly name = 'NotFound';
}

const Feed = service('Feed', {
  watch: serverStream({ input: z.object({ topic: z.string().min(1) }), output: z.number() }).throws(codeErrors({ 1: NotFound })),
  chat: bidiStream<number, number>().throws(codeErrors({ 1: NotFound })),
});

async function setup() {
  // The handlers throw NotFound before any item, once the test lets them: after `.result()` resolved.
  const release = deferred<void>();
  const s = await serve({
    codec: msgpackCodec,
    logger: silentLogger,
    services: [
      implement(Feed, {
        async *watch() {
          await release.promise;
          yield* [];
          throw new NotFound();
        },
        async *chat() {
          await release.promise;
          yield* [];
          throw new NotFound();
        },
      }),
    ],
  });
  cleanup.push(() => s.close());
  return { feed: createClient(Feed, s.stream, { codec: msgpackCodec }), release: () => release.resolve() };
}

/** What reading the stream `.result()` gave saw: its items, and what its iterator threw. */
async function readAll(r: Result<AsyncIterable<number>, unknown>): Promise<{ seen: number[]; e?: unknown }> {
  if (!r.ok) throw r.error;
  const seen: number[] = [];
  try {
    for await (const n of r.value) seen.push(n);
  } catch (e) {
    return { seen, e };
  }
  return { seen };
}

describe('.result() of a stream of results', () => {
  it("a server stream's handler error before its first item: ok, then its iterator throws the declared error", async () => {
    const { feed, release } = await setup();
    // Resolves while the handler has not answered yet: it waits for nothing of the server's.
    const r = await feed.watch.result({ topic: 'none' });
    expect(r.ok).toBe(true);
    release();
    const read = await readAll(r);
    expect(read.seen).toEqual([]);
    expect(read.e).toBeInstanceOf(NotFound);
  });

  it('a bidi stream alike', async () => {
    const { feed, release } = await setup();
    const r = await feed.chat.result([1, 2]);
    expect(r.ok).toBe(true);
    release();
    const read = await readAll(r);
    expect(read.e).toBeInstanceOf(NotFound);
  });

  it('a refusal of its opening (its input schema, unsent) is ok: false, an RpcError', async () => {
    const { feed } = await setup();
    const r = await feed.watch.result({ topic: '' });
    expect(r.ok).toBe(false);
    const error = r.ok ? undefined : r.error;
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).code).toBe(ErrorCode.InvalidArgument);
  });
});
