import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bidiStream, clientStream, createClient, implement, method, serverStream, service, withBlob, type WithBlob } from '../src/index.js';
import { serve } from './harness.js';
import { cleanups } from '@skein/test-utils';

const cleanup = cleanups();

/** Bytes that say which they are: `n` bytes, each `(seed + i) & 0xff`. */
function bytesOf(seed: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed + i) & 0xff;
  return b;
}
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(b);

const Files = service('Files', {
  // The argument's value is checked by its schema; the bytes travel beside it.
  put: method({ input: z.object({ name: z.string().min(1) }), output: z.object({ size: z.number() }) }).blob(),
  get: method<{ name: string }, { name: string }>().blob(),
  plain: method<{ name: string }, number>(),
  chunks: serverStream<{ n: number; size: number }, { i: number }>().blob(),
  upload: clientStream<{ i: number }, { total: number }>().blob(),
  mirror: bidiStream<string, string>().blob(),
});

async function setup() {
  const s = await serve({
    codec: msgpackCodec,
    logger: silentLogger,
    services: [
      implement(Files, {
        put: ({ value, blob }) => withBlob({ size: blob.length + value.name.length }),
        get: ({ value }) => withBlob({ name: value.name }, bytesOf(value.name.length, 300_000)),
        plain: (_, ctx) => ctx.blob.length,
        async *chunks({ value }) {
          for (let i = 0; i < value.n; i++) yield withBlob({ i }, bytesOf(i, value.size));
        },
        async upload(items) {
          let total = 0;
          for await (const { value, blob } of items) {
            if (blob[0] !== (value.i & 0xff)) throw new RpcError(ErrorCode.InvalidArgument, `item ${value.i} came with another's bytes`);
            total += blob.length;
          }
          return withBlob({ total }, bytesOf(7, 3));
        },
        async *mirror(items) {
          for await (const { value, blob } of items) yield withBlob(value.toUpperCase(), blob.slice().reverse());
        },
      }),
    ],
  });
  cleanup.push(() => s.close());
  return createClient(Files, s.stream, { codec: msgpackCodec });
}

describe('blobs through the typed API', () => {
  it('a unary .blob() method sends bytes with its argument and returns them with its result', async () => {
    const files = await setup();
    expect(await files.put(withBlob({ name: 'a.bin' }, bytesOf(0, 100_000)))).toEqual({ value: { size: 100_005 }, blob: new Uint8Array(0) });
    const got: WithBlob<{ name: string }> = await files.get(withBlob({ name: 'abc' }));
    expect(got.value).toEqual({ name: 'abc' });
    expect(same(got.blob, bytesOf(3, 300_000))).toBe(true);
    // A method not declared .blob() is unchanged: its argument is the value itself.
    expect(await files.plain({ name: 'x' })).toBe(0);
  });

  it('schemas check the value beside the blob; a value that is not a WithBlob is refused', async () => {
    const files = await setup();
    const bad = await files.put(withBlob({ name: '' }, bytesOf(0, 10))).catch((e: unknown) => e);
    expect((bad as RpcError).code).toBe(ErrorCode.InvalidArgument);
    expect((bad as RpcError).message).toMatch(/Files\.put: invalid argument: name/);
    const notBytes = await files.put({ value: { name: 'a' }, blob: 'nope' } as never).catch((e: unknown) => e);
    expect((notBytes as RpcError).code).toBe(ErrorCode.InvalidArgument);
  });

  it('stream items carry blobs both ways, each with its own bytes', async () => {
    const files = await setup();
    let n = 0;
    for await (const { value, blob } of await files.chunks(withBlob({ n: 20, size: 64 * 1024 }))) {
      expect(value).toEqual({ i: n });
      expect(same(blob, bytesOf(n, 64 * 1024))).toBe(true);
      n++;
    }
    expect(n).toBe(20);

    async function* items() {
      for (let i = 0; i < 10; i++) yield withBlob({ i }, bytesOf(i, 1000 + i));
    }
    const up = await files.upload(items());
    expect(up.value).toEqual({ total: 10 * 1000 + 45 });
    expect(up.blob).toEqual(bytesOf(7, 3));

    const back: string[] = [];
    async function* words() {
      yield withBlob('ab', Uint8Array.of(1, 2, 3));
      yield withBlob('c', Uint8Array.of(9));
    }
    for await (const { value, blob } of await files.mirror(words())) {
      back.push(`${value}:${blob.join(',')}`);
    }
    expect(back).toEqual(['AB:3,2,1', 'C:9']);
  });
});

describe('a .blob() method given what is no WithBlob', () => {
  const Raw = service('Raw', { get: method<{ name: string }, { name: string }>().blob(), feed: serverStream<number, number>().blob() });

  async function raw(get: () => unknown, feed: () => AsyncIterable<unknown>) {
    let runs = 0;
    const s = await serve({
      codec: msgpackCodec,
      logger: silentLogger,
      services: [implement(Raw, { get: () => (runs++, get()) as never, feed: () => feed() as never })],
    });
    cleanup.push(() => s.close());
    return { raw: createClient(Raw, s.stream, { codec: msgpackCodec }), runs: () => runs };
  }

  it('refuses a bare argument on the client, never sent, rather than sending it as nothing', async () => {
    const { raw: c, runs } = await raw(() => withBlob({ name: 'x' }), async function* () {});
    await expect(c.get({ name: 'a' } as never)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/Raw\.get: .*bare value/) });
    expect(runs()).toBe(0);
  });

  it("answers a handler's bare or bad result Internal (the server's fault), not InvalidArgument nor a lost value", async () => {
    const bare = await raw(() => ({ name: 'lost' }), async function* () {});
    await expect(bare.raw.get(withBlob({ name: 'a' }))).rejects.toMatchObject({ code: ErrorCode.Internal });
    const badBytes = await raw(() => ({ value: { name: 'a' }, blob: 'nope' }), async function* () {});
    await expect(badBytes.raw.get(withBlob({ name: 'a' }))).rejects.toMatchObject({ code: ErrorCode.Internal });
    const badItem = await raw(() => withBlob({ name: 'x' }), async function* () {
      yield { value: 1, blob: 'nope' };
    });
    const read = async (): Promise<void> => {
      for await (const _ of await badItem.raw.feed(withBlob(1))) void _;
    };
    await expect(read()).rejects.toMatchObject({ code: ErrorCode.Internal });
  });
});
