import { cbor } from '@skein/codec-cbor';
import { msgpack } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { ClientStream, RpcServer } from '@skein/stream';
import { cleanups, fromHex } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient, implement, method, service } from '../src/index.js';
import { listening, serve, transport } from './harness.js';

// Values a hostile peer puts in a message of allowed size, against a real server and client
// over TCP: each fails its own call with a typed error, and the connection goes on.

type Tree = number | Tree[];
const Tree: z.ZodType<Tree> = z.lazy(() => z.union([z.number(), z.array(Tree)]));
const Trees = service('Trees', {
  leaves: method({ input: Tree, output: z.number() }),
  grow: method({ input: z.number(), output: Tree }),
  echo: method<unknown, unknown>(),
  /** What the first item of an array argument was made as: `Object`, `Tag`... */
  firstKind: method<unknown[], string>(),
});
const leaves = (t: Tree): number => (Array.isArray(t) ? t.reduce<number>((n, c) => n + leaves(c), 0) : 1);
const trees = implement(Trees, { leaves, grow: (n) => n, echo: (v) => v, firstKind: ([first]) => (first as object).constructor.name });

/** CBOR: tag 28 around an array holding tag 29 of it, the array itself (a shared reference, as a cbor-x Encoder with structuredClone writes it). */
const CYCLE = fromHex('d81c 81 d81d00');

/** CBOR: tag 27 `['RegExp', '\p{L}' × 200, 'u']`, a RegExp whose source V8 takes about 60 µs a byte to parse. */
const REGEXP = Uint8Array.from([0xd8, 27, 0x83, 0x66, ...Buffer.from('RegExp'), 0x79, 0x03, 0xe8, ...Buffer.from('\\p{L}'.repeat(200)), 0x61, 0x75]);

/** CBOR: 1,000 arrays each holding the next, the innermost 1: within cbor-x's stack, past the codec's default maxDepth (100). */
const DEEP_CBOR = Uint8Array.from([...new Array<number>(1000).fill(0x81), 0x01]);

/** msgpack: `depth` arrays each holding the next, the innermost 1. */
function nested(depth: number): Uint8Array {
  const bytes = new Uint8Array(depth + 1).fill(0x91);
  bytes[depth] = 1;
  return bytes;
}

const cleanup = cleanups<() => unknown>();

/** A server that answers every call with `msg`, as a hostile one would, and a client of it. */
async function answering(msg: Uint8Array): Promise<ClientStream> {
  const { connect } = await listening(new RpcServer({ dispatch: { dispatch: (req) => void req.reply(msg) } }), cleanup);
  return connect();
}

describe('cbor: a value holding a shared reference (tag 29), here a cycle', () => {
  it('fails that call with Decode on a server, schema or none, and the connection goes on', async () => {
    const codec = cbor();
    const s = await serve({ codec, services: [trees], logger: silentLogger });
    cleanup.push(() => s.close());
    // Before, the schema of a tree passed the cycle, and the handler walking it overflowed its stack (Internal).
    await expect(s.stream.call('Trees.leaves', CYCLE)).rejects.toMatchObject({ code: ErrorCode.Decode });
    await expect(s.stream.call('Trees.echo', CYCLE)).rejects.toMatchObject({ code: ErrorCode.Decode });
    expect(await createClient(Trees, s.stream, { codec }).leaves([1, [2, 3]])).toBe(3);
  });

  it('fails the call with Decode on a client whose reply it is', async () => {
    const client = createClient(Trees, await answering(CYCLE), { codec: cbor() });
    await expect(client.echo(1)).rejects.toMatchObject({ code: ErrorCode.Decode });
  });
});

/** CBOR over 256 bytes (cbor-x reads it in place): `[...items, a byte string filling the rest]`. */
function padded(items: number[]): Uint8Array {
  const bytes = new Uint8Array(400);
  bytes.set([0x82, ...items, 0x59, 0x01, 0x8c - items.length]);
  return bytes;
}

describe('cbor: a record (cbor-x tag 0xdfff) one peer defines', () => {
  it("is not read in another peer's message, nor in the same peer's next", async () => {
    const codec = cbor();
    const s = await serve({ codec, services: [trees], logger: silentLogger });
    cleanup.push(() => s.close());
    const other = await ClientStream.connect({ transport, address: s.address, keepaliveMs: 0 });
    cleanup.push(() => other.destroy());
    // Record 0xe000, keys ['a'], holding 1: in its own message, a record (a plain object).
    const define = padded([0xd9, 0xdf, 0xff, 0x83, 0x19, 0xe0, 0x00, 0x81, 0x61, 0x61, 0x01]);
    expect(codec.decode((await s.stream.call('Trees.firstKind', define)).msg)).toBe('Object');
    // Tag 0xe000 around [2] in a message that defines no record: any other tag, for both peers.
    // Before, the server's codec read it as the first peer's record.
    const refer = padded([0xd9, 0xe0, 0x00, 0x81, 0x02]);
    expect(codec.decode((await other.call('Trees.firstKind', refer)).msg)).toBe('Tag');
    expect(codec.decode((await s.stream.call('Trees.firstKind', refer)).msg)).toBe('Tag');
  });
});

describe('cbor: a RegExp (tag 27), which costs far more to make than its bytes', () => {
  it('fails that call with Decode on a server, and the connection goes on', async () => {
    const codec = cbor();
    const s = await serve({ codec, services: [trees], logger: silentLogger });
    cleanup.push(() => s.close());
    // Before, the handler got the RegExp: 1 MB of this source blocked the server 39 s.
    await expect(s.stream.call('Trees.echo', REGEXP)).rejects.toMatchObject({ code: ErrorCode.Decode });
    expect(await createClient(Trees, s.stream, { codec }).echo('still here')).toBe('still here');
  });

  it('fails the call with Decode on a client whose reply it is', async () => {
    const client = createClient(Trees, await answering(REGEXP), { codec: cbor() });
    await expect(client.echo(1)).rejects.toMatchObject({ code: ErrorCode.Decode });
  });
});

describe('cbor: a value nested deeper than the default maxDepth (100)', () => {
  it('fails that call with Decode on a server, schema or none; other calls and the connection go on', async () => {
    const codec = cbor();
    const s = await serve({ codec, services: [trees], logger: silentLogger });
    cleanup.push(() => s.close());
    const client = createClient(Trees, s.stream, { codec });
    // Before, both handlers got the 1,000 levels (and echo sent them back).
    const [leavesCall, echoCall, other] = await Promise.allSettled([
      s.stream.call('Trees.leaves', DEEP_CBOR),
      s.stream.call('Trees.echo', DEEP_CBOR),
      client.leaves([1, [2, [3]]]),
    ]);
    expect(leavesCall).toMatchObject({ status: 'rejected', reason: { code: ErrorCode.Decode } });
    expect(echoCall).toMatchObject({ status: 'rejected', reason: { code: ErrorCode.Decode } });
    expect(other).toEqual({ status: 'fulfilled', value: 3 });
    expect(await client.echo('still here')).toBe('still here');
  });

  it('fails the call with Decode on a client whose reply it is, and the client goes on', async () => {
    const stream = await answering(DEEP_CBOR);
    const client = createClient(Trees, stream, { codec: cbor() });
    await expect(client.grow(1)).rejects.toMatchObject({ code: ErrorCode.Decode, message: expect.stringContaining('nested deeper than maxDepth (100)') });
    await expect(client.echo(1)).rejects.toMatchObject({ code: ErrorCode.Decode });
  });
});

describe('a value nested deeper than a recursive schema can check (msgpack with maxDepth Infinity)', () => {
  const codec = msgpack({ maxDepth: Infinity });
  const deep = nested(20_000);

  it('is InvalidArgument on a server, and the connection goes on', async () => {
    const s = await serve({ codec, services: [trees], logger: silentLogger });
    cleanup.push(() => s.close());
    // Before, the schema's stack overflow failed the call with Internal.
    await expect(s.stream.call('Trees.leaves', deep)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringContaining('nested too deep') });
    expect(await createClient(Trees, s.stream, { codec }).leaves([1, [2]])).toBe(2);
  });

  it('is a Decode RpcError on a client whose reply it is', async () => {
    const client = createClient(Trees, await answering(deep), { codec });
    // Before, the call failed with the schema's RangeError, no RpcError.
    const failure = await client.grow(1).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(RpcError);
    expect(failure).toMatchObject({ code: ErrorCode.Decode, message: expect.stringContaining('nested too deep') });
  });
});
