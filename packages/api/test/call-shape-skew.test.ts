import { msgpackCodec } from '@skein/codec-msgpack';
import { EMPTY_BYTES, ErrorCode, silentLogger } from '@skein/core';
import type { StreamCall } from '@skein/stream';
import { cleanups, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { CALLED_AS_UNARY, bidiStream, clientStream, createClient, implement, method, serverStream, service } from '../src/index.js';
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

  it('CALLED_AS_UNARY holds the words above, which servers have always sent: clients out there, skein call among them, match them', () => {
    expect(CALLED_AS_UNARY).toBe('on the server, called as a unary method');
  });

  it('a server stream opened with an argument on a client or bidirectional stream is refused at once, not left waiting for items', async () => {
    const { ran, stream } = await setup();
    const skewed = createClient(Skewed, stream, { codec: msgpackCodec });
    // No timeoutMs: before, each waited for ever (the handler for items, the client for its answer).
    // The stub says what it opened (its `skein-stream` entry), which names the skew first.
    await expect(within(drained(skewed.upload({ n: 1 })), 10_000, 'the refusal')).rejects.toMatchObject(refused('Feed.upload', /a client stream on the server, opened as a server stream/));
    await expect(within(drained(skewed.chat({ n: 1 })), 10_000, 'the refusal')).rejects.toMatchObject(refused('Feed.chat', /a bidirectional stream on the server, opened as a server stream/));
    expect(ran).toEqual([]);
    // The methods themselves serve their own clients as before.
    const served = createClient(Served, stream, { codec: msgpackCodec });
    expect(await served.upload([1, 2, 3])).toBe(6);
    expect(await drained(served.chat([4, 5]))).toEqual([4, 5]);
    expect(await drained(served.watch({ n: 7 }))).toEqual([7]);
    expect(await served.unary({ n: 8 })).toBe(8);
  });
});

/*
 * Found by helper 275: what the wire cannot show went on unrefused. A server stream without an
 * argument (its argument encodes to no bytes) opens with nothing, as a client or bidirectional
 * stream does: opened on one, it waited for items for ever; a client stream opened on a server
 * stream ran its handler with `undefined`, a bidirectional one on a client stream read `[]`. A
 * stub's open now says the kind it was made for (metadata `skein-stream`), and the server
 * refuses a kind other than its own unrun.
 */

/** The server's streaming methods as clients of other versions see them, each opened with nothing. */
const NoArgument = service('Feed', { upload: serverStream<void, number>(), chat: serverStream<void, number>() });
const AsClient = service('Feed', { watch: clientStream<number, number>(), chat: clientStream<number, number>() });
const AsBidi = service('Feed', { watch: bidiStream<number, number>(), upload: bidiStream<number, number>() });

const msgpack = { codec: msgpackCodec };
/** What a raw open's stream answers with, as a value. */
const answered = (s: StreamCall) => s.result.then((r) => (r.msg.length === 0 ? undefined : msgpackCodec.decode(r.msg)));

describe('a stream opened as another kind than the server\'s, which the wire cannot show', () => {
  it('a server stream without an argument on a client or bidirectional stream is refused at once, not left waiting', async () => {
    const { ran, stream } = await setup();
    const skewed = createClient(NoArgument, stream, msgpack);
    // No timeoutMs: before, each waited for ever (the handler for items, the client for its answer).
    await expect(within(drained(skewed.upload()), 10_000, 'the refusal')).rejects.toMatchObject(refused('Feed.upload', /a client stream on the server, opened as a server stream/));
    await expect(within(drained(skewed.chat(undefined)), 10_000, 'the refusal')).rejects.toMatchObject(refused('Feed.chat', /a bidirectional stream on the server, opened as a server stream/));
    expect(ran).toEqual([]);
  });

  it('a client stream on a server or bidirectional stream is refused unrun', async () => {
    const { ran, stream } = await setup();
    const skewed = createClient(AsClient, stream, msgpack);
    // Before: the server stream's handler ran with `undefined`; the bidirectional one's ran and its items were lost.
    await expect(within(skewed.watch([1, 2]), 10_000, 'the refusal')).rejects.toMatchObject(refused('Feed.watch', /a server stream on the server, opened as a client stream/));
    await expect(within(skewed.chat([1, 2]), 10_000, 'the refusal')).rejects.toMatchObject(refused('Feed.chat', /a bidirectional stream on the server, opened as a client stream/));
    expect(ran).toEqual([]);
  });

  it('a bidirectional stream on a server or client stream is refused unrun', async () => {
    const { ran, stream } = await setup();
    const skewed = createClient(AsBidi, stream, msgpack);
    // Before: the server stream's handler ran with `undefined`; the client stream's result was read as the end of a stream (`[]`).
    await expect(within(drained(skewed.watch([1, 2])), 10_000, 'the refusal')).rejects.toMatchObject(refused('Feed.watch', /a server stream on the server, opened as a bidirectional stream/));
    await expect(within(drained(skewed.upload([1, 2])), 10_000, 'the refusal')).rejects.toMatchObject(refused('Feed.upload', /a client stream on the server, opened as a bidirectional stream/));
    expect(ran).toEqual([]);
  });

  it("a stream of the server's kind is served, its handler seeing the stub's entry in place of the caller's own of that name", async () => {
    const seen: (string | undefined)[][] = [];
    const s = await serve({
      codec: msgpackCodec,
      logger: silentLogger,
      services: [
        implement(Served, {
          unary: ({ n }, ctx) => (seen.push([ctx.metadata['skein-stream'], ctx.metadata.mine]), n),
          async *watch({ n }, ctx) {
            seen.push([ctx.metadata['skein-stream'], ctx.metadata.mine]);
            yield n;
          },
          async upload(xs, ctx) {
            seen.push([ctx.metadata['skein-stream'], ctx.metadata.mine]);
            let sum = 0;
            for await (const x of xs) sum += x;
            return sum;
          },
          async *chat(xs, ctx) {
            seen.push([ctx.metadata['skein-stream'], ctx.metadata.mine]);
            for await (const x of xs) yield x;
          },
        }),
      ],
    });
    cleanup.push(() => s.close());
    const served = createClient(Served, s.stream, msgpack);
    // The caller's entry of the reserved name says another kind: the stub's own goes instead.
    const metadata = { 'skein-stream': 'sideways', mine: 'kept' };
    expect(await drained(served.watch({ n: 7 }, { metadata }))).toEqual([7]);
    expect(await served.upload([1, 2, 3], { metadata })).toBe(6);
    expect(await drained(served.chat([4, 5], { metadata }))).toEqual([4, 5]);
    expect(await served.unary({ n: 8 }, { metadata: { mine: 'unary' } })).toBe(8);
    expect(seen).toEqual([
      ['server', 'kept'],
      ['client', 'kept'],
      ['both', 'kept'],
      [undefined, 'unary'], // a unary call carries no entry
    ]);
  });

  it("a raw open without the entry (an older client's) is held to what the wire shows, as before", async () => {
    const { ran, stream } = await setup();
    await stream.ping(); // the hello's answer first: the opens below go as they are
    // A server stream with its argument.
    const watch = stream.openStream('Feed.watch', msgpackCodec.encode({ n: 3 }));
    const items: unknown[] = [];
    for await (const item of watch) items.push(msgpackCodec.decode(item.msg));
    expect(items).toEqual([3]);
    // A client stream opened with nothing, its items written after.
    const upload = stream.openStream('Feed.upload', EMPTY_BYTES);
    await upload.write(msgpackCodec.encode(4));
    await upload.write(msgpackCodec.encode(5));
    upload.end();
    expect(await answered(upload)).toBe(9);
    // Still refused: what the wire shows, an argument to a bidirectional stream.
    await expect(within(answered(stream.openStream('Feed.chat', msgpackCodec.encode({ n: 1 }))), 10_000, 'the refusal')).rejects.toMatchObject(
      refused('Feed.chat', /a bidirectional stream on the server, opened with an argument as a server stream is/),
    );
    expect(ran).toEqual(['watch', 'upload']);
  });

  it('an entry that names no kind of stream is refused unrun, naming the reserved key', async () => {
    const { ran, stream } = await setup();
    const open = stream.openStream('Feed.watch', msgpackCodec.encode({ n: 3 }), { metadata: { 'skein-stream': 'sideways' } });
    await expect(within(answered(open), 10_000, 'the refusal')).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: expect.stringMatching(/^Feed\.watch: metadata 'skein-stream' is "sideways", not 'server', 'client' or 'both'/),
    });
    // A raw open that says its kind is held to it as a stub's is.
    const upload = stream.openStream('Feed.upload', EMPTY_BYTES, { metadata: { 'skein-stream': 'both' } });
    upload.end();
    await expect(within(answered(upload), 10_000, 'the refusal')).rejects.toMatchObject(refused('Feed.upload', /a client stream on the server, opened as a bidirectional stream/));
    expect(ran).toEqual([]);
  });
});
