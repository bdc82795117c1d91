import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { CALLED_AS_UNARY, bidiStream, clientStream, createClient, implement, method, serverStream, service } from '../src/index.js';
import { serve } from './harness.js';

/*
 * The words by which a client tells the refusal of a streaming method's plain call from another
 * InvalidArgument (the wire carries nothing else for it). Clients of every version match them,
 * `skein call` among them: reworded, an older client would read this refusal as any other.
 */

const cleanup = cleanups();

const Served = service('Feed', {
  watch: serverStream<{ n: number }, number>(),
  upload: clientStream<number, number>(),
  chat: bidiStream<number, number>(),
});
/** The same names as a client whose definitions are all unary sees them. */
const Unary = service('Feed', { watch: method<{ n: number }, number>(), upload: method<{ n: number }, number>(), chat: method<{ n: number }, number>() });

describe('CALLED_AS_UNARY', () => {
  it('is the words servers have always sent: a contract with clients already out there', () => {
    expect(CALLED_AS_UNARY).toBe('on the server, called as a unary method');
  });

  it("is in the server's refusal of each kind of stream called as a unary method, over a real connection", async () => {
    const s = await serve({
      codec: msgpackCodec,
      logger: silentLogger,
      services: [
        implement(Served, {
          async *watch({ n }) {
            yield n;
          },
          async upload(xs) {
            let sum = 0;
            for await (const x of xs) sum += x;
            return sum;
          },
          async *chat(xs) {
            for await (const x of xs) yield x;
          },
        }),
      ],
    });
    cleanup.push(() => s.close());
    const client = createClient(Unary, s.stream, { codec: msgpackCodec });
    for (const m of ['watch', 'upload', 'chat'] as const) {
      const err = await client[m]({ n: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringContaining(CALLED_AS_UNARY) });
    }
  });
});
