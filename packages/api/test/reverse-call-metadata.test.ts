import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode } from '@skein/core';
import { RpcServer } from '@skein/stream';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { bearerAuth, createClient, createServiceDispatch, implement, method, service, type CallContext } from '../src/index.js';
import { memoryLogger, servingClient } from './harness.js';

// A server handler's calls to the client that connected (createClient(Def, ctx.caller)) carry
// metadata, made with `{ ctx }` on its own call's behalf: the client's handler and filters read it
// as a server's read a forward call's (docs/protocol.md, "Calls both ways").

const cleanup = cleanups();
const codec = msgpackCodec;

/** Served by the server: calls the client back with the metadata it is given, and says what it read of its own call's. */
const Front = service('Front', {
  relay: method<Record<string, string>, string[][]>(),
  own: method<void, string[][]>(),
});
/** Served by the client, behind a bearer token check. */
const Wallet = service('Wallet', {
  /** The metadata entries its handler read. */
  peek: method<void, string[][]>(),
});

/** The records each handler saw: compared, not only their entries. */
const records: { forward: CallContext['metadata'][]; reverse: CallContext['metadata'][] } = { forward: [], reverse: [] };

async function setUp() {
  const server = new RpcServer({
    dispatch: createServiceDispatch({
      codec,
      // The refusals below are logged as failed calls: kept off the console.
      logger: memoryLogger(),
      services: [
        implement(Front, {
          relay: (metadata, ctx) => createClient(Wallet, ctx.caller!, { codec }).peek(undefined, { ctx, metadata }),
          own: (_arg, ctx) => (records.forward.push(ctx.metadata), Object.entries(ctx.metadata)),
        }),
      ],
    }),
  });
  const peer = await servingClient(
    server,
    createServiceDispatch({
      codec,
      filters: [bearerAuth((token) => (token === 's3cret' ? 'the server' : undefined))],
      services: [implement(Wallet, { peek: (_arg, ctx) => (records.reverse.push(ctx.metadata), Object.entries(ctx.metadata)) })],
    }),
    cleanup,
  );
  return createClient(Front, peer, { codec });
}

describe("metadata on a handler's calls to its client (ctx.caller, { ctx })", () => {
  it("reaches the client's filters and handler as a forward call's reaches a server's: same entries, same kind of record", async () => {
    const front = await setUp();
    const metadata = { authorization: 'Bearer s3cret', 'x-trace': 'abc' };
    expect(await front.relay(metadata)).toEqual([
      ['authorization', 'Bearer s3cret'],
      ['x-trace', 'abc'],
    ]);
    expect(await front.own(undefined, { metadata })).toEqual(Object.entries(metadata));
    const [reverse] = records.reverse;
    const [forward] = records.forward;
    expect(Object.isFrozen(reverse)).toBe(true);
    expect(Object.getPrototypeOf(reverse)).toBe(Object.getPrototypeOf(forward));
    // Without the token, or with a wrong one: refused by the client's bearer check, never run.
    await expect(front.relay({ 'x-trace': 'abc' })).rejects.toMatchObject({ code: ErrorCode.Unauthenticated });
    await expect(front.relay({ authorization: 'Bearer wrong' })).rejects.toMatchObject({ code: ErrorCode.Unauthenticated });
    expect(records.reverse).toHaveLength(1);
  });
});
