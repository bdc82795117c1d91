import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger } from '@skein/core';
import { cleanups, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { bidiStream, clientStream, createClient, implement, method, serverStream, service } from '../src/index.js';
import { serve } from './harness.js';

/*
 * Found by an audit: a client whose definition of a method has another shape than the server's
 * (unary on one side, streaming on the other) got no word of it. A stream opened on a unary
 * method ran its handler, whose result read as the end of an empty stream (`[]`, or `null` for
 * a client stream); a streaming method called as unary failed with a bare `rpc_invalid_ver`, as
 * if the protocol versions differed; and a server stream opened on a client or bidirectional
 * stream sent no item and waited, as the handler did, for ever. Now the server refuses each
 * before its handler runs, with InvalidArgument naming the mismatch.
 */

const cleanup = cleanups();

/** What the server serves: one method of each shape. */
const Served = service('Feed', {
  unary: method<{ n: number }, number>(),
  watch: serverStream<{ n: number }, number>(),
  upload: clientStream<number, number>(),
  chat: bidiStream<number, number>(),
});

/** The same names as a client of another version sees them: each of another shape. */
const Skewed = service('Feed', {
  unary: serverStream<{ n: number }, number>(),
  watch: method<{ n: number }, number>(),
  upload: serverStream<{ n: number }, number>(),
  chat: serverStream<{ n: number }, number>(),
});
const SkewedToo = service('Feed', { unary: clientStream<number, number>(), upload: method<{ n: number }, number>() });
const SkewedBidi = service('Feed', { unary: bidiStream<number, number>(), chat: method<{ n: number }, number>() });

async function setup() {
  const ran: string[] = [];
  const s = await serve({
    codec: msgpackCodec,
    logger: silentLogger,
    services: [
      implement(Served, {
        unary: ({ n }) => (ran.push('unary'), n),
        async *watch({ n }) {
          ran.push('watch');
          yield n;
        },
        async upload(xs) {
          ran.push('upload');
          let sum = 0;
          for await (const x of xs) sum += x;
          return sum;
        },
        async *chat(xs) {
          ran.push('chat');
          for await (const x of xs) yield x;
        },
      }),
    ],
  });
  cleanup.push(() => s.close());
  return { ran, stream: s.stream };
}

const drained = async (opened: Promise<AsyncIterable<number>>): Promise<number[]> => {
  const out: number[] = [];
  for await (const v of await opened) out.push(v);
  return out;
};

const refused = (action: string, words: RegExp) => ({
  code: ErrorCode.InvalidArgument,
  retry: 'never',
  message: expect.stringMatching(new RegExp(`^${action.replace('.', '\\.')}: ${words.source}: do the client's and the server's definitions of it differ\\?$`)),
});

describe("a method called in another shape than the server's", () => {
  it('a stream of any kind opened on a unary method is refused unrun', async () => {
    const { ran, stream } = await setup();
    const unary = /a unary method on the server, opened as a stream/;
    await expect(drained(createClient(Skewed, stream, { codec: msgpackCodec }).unary({ n: 1 }))).rejects.toMatchObject(refused('Feed.unary', unary));
    await expect(createClient(SkewedToo, stream, { codec: msgpackCodec }).unary([1, 2])).rejects.toMatchObject(refused('Feed.unary', unary));
    await expect(drained(createClient(SkewedBidi, stream, { codec: msgpackCodec }).unary([1, 2]))).rejects.toMatchObject(refused('Feed.unary', unary));
    expect(ran).toEqual([]);
  });

  it('a unary call of a streaming method is refused unrun, naming its shape (not as a protocol version mismatch)', async () => {
    const { ran, stream } = await setup();
    await expect(createClient(Skewed, stream, { codec: msgpackCodec }).watch({ n: 1 })).rejects.toMatchObject(refused('Feed.watch', /a server stream on the server, called as a unary method/));
    await expect(createClient(SkewedToo, stream, { codec: msgpackCodec }).upload({ n: 1 })).rejects.toMatchObject(refused('Feed.upload', /a client stream on the server, called as a unary method/));
    await expect(createClient(SkewedBidi, stream, { codec: msgpackCodec }).chat({ n: 1 })).rejects.toMatchObject(refused('Feed.chat', /a bidirectional stream on the server, called as a unary method/));
    expect(ran).toEqual([]);
  });

  it('a server stream opened with an argument on a client or bidirectional stream is refused at once, not left waiting for items', async () => {
    const { ran, stream } = await setup();
    const skewed = createClient(Skewed, stream, { codec: msgpackCodec });
    // No timeoutMs: before, each waited for ever (the handler for items, the client for its answer).
    await expect(within(drained(skewed.upload({ n: 1 })), 10_000, 'the refusal')).rejects.toMatchObject(refused('Feed.upload', /a client stream on the server, opened with an argument as a server stream is/));
    await expect(within(drained(skewed.chat({ n: 1 })), 10_000, 'the refusal')).rejects.toMatchObject(refused('Feed.chat', /a bidirectional stream on the server, opened with an argument as a server stream is/));
    expect(ran).toEqual([]);
    // The methods themselves serve their own clients as before.
    const served = createClient(Served, stream, { codec: msgpackCodec });
    expect(await served.upload([1, 2, 3])).toBe(6);
    expect(await drained(served.chat([4, 5]))).toEqual([4, 5]);
    expect(await drained(served.watch({ n: 7 }))).toEqual([7]);
    expect(await served.unary({ n: 8 })).toBe(8);
  });
});
