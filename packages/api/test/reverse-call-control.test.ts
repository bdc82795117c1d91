import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError } from '@skein/core';
import { RpcServer } from '@skein/stream';
import { cleanups, deferred, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service } from '../src/index.js';
import { servingClient } from './harness.js';

// A server handler's calls to the client that connected (createClient(Def, ctx.caller)): their
// deadline reaches the client's handler, and their cancel too (docs/protocol.md, "Calls both ways").

const cleanup = cleanups();
const codec = msgpackCodec;

/** Served by the server: each method calls the client back. */
const Front = service('Front', {
  /** Calls `Wallet.peek` with a timeout of its own. */
  timed: method<{ timeoutMs: number }, number | null>(),
  /** Calls `Wallet.hold` on its own call's behalf ({ ctx }): cancelled with it. */
  relay: method<string, string>(),
});
/** Served by the client. */
const Wallet = service('Wallet', {
  /** What the handler sees of its deadline: the ms left, or null without one. */
  peek: method<void, number | null>(),
  /** Waits for its signal, and says what aborted it. */
  hold: method<string, string>(),
});

async function setUp() {
  const server = new RpcServer({
    dispatch: createServiceDispatch({
      codec,
      services: [
        implement(Front, {
          timed: ({ timeoutMs }, ctx) => createClient(Wallet, ctx.caller!, { codec }).peek(undefined, { timeoutMs }),
          relay: (tag, ctx) => createClient(Wallet, ctx.caller!, { codec }).hold(tag, { ctx }),
        }),
      ],
    }),
  });
  const held = deferred<unknown>();
  const holding = deferred();
  const peer = await servingClient(
    server,
    createServiceDispatch({
      codec,
      services: [
        implement(Wallet, {
          peek: (_arg, ctx) => ctx.remainingMs() ?? null,
          hold: (_tag, ctx) =>
            new Promise<string>((_resolve, reject) => {
              ctx.signal.addEventListener('abort', () => (held.resolve(ctx.signal.reason), reject(ctx.signal.reason)));
              holding.resolve();
            }),
        }),
      ],
    }),
    cleanup,
  );
  return { server, front: createClient(Front, peer, { codec }), held: held.promise, holding: holding.promise };
}

describe("a handler's calls to its client (ctx.caller), with deadlines and cancels", () => {
  it("hands the call's timeout to the client's handler as its deadline (ctx.remainingMs)", async () => {
    const { front } = await setUp();
    const left = await front.timed({ timeoutMs: 2_000 });
    expect(left).not.toBeNull();
    expect(left!).toBeGreaterThan(0);
    expect(left!).toBeLessThanOrEqual(2_000);
  });

  it("a client's cancel reaches, through the server's handler and its { ctx } call back, the client's own handler: Cancelled", async () => {
    const { front, server, held, holding } = await setUp();
    const ac = new AbortController();
    const call = front.relay('x', { signal: ac.signal });
    await holding;
    ac.abort();
    await expect(call).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    const reason = await held;
    expect(reason).toBeInstanceOf(RpcError);
    expect(reason).toMatchObject({ code: ErrorCode.Cancelled, message: 'Wallet.hold: cancelled by the server' });
    const caller = server.openConnections()[0]!.caller as unknown as { inFlight: number };
    await waitFor(() => caller.inFlight === 0, { what: 'the reverse call off the wire' });
  });
});
